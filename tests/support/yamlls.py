"""The real yaml-language-server over LSP (stdio), driven with pygls's client: what an
editor shows for an environment file — its diagnostics, and the completions offered.

yaml-language-server 1.25.0 pulls its settings with `workspace/configuration` (after
`initialized` and each `workspace/didChangeConfiguration`) and announces that it has
applied them with `yaml/schema/store/initialized` once the client has sent its
`yaml/supportSchemaSelection`; documents are opened only then. Its diagnostics carry no
version, so the first `publishDiagnostics` for a document after it was opened is its.
The SchemaStore catalog is switched off: nothing goes to the network.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.conftest import REPO_ROOT

SERVER = (
    REPO_ROOT / "tools" / "yaml-language-server" / "node_modules" / "yaml-language-server"
    / "bin" / "yaml-language-server"
)  # fmt: skip
SETTINGS: dict[str, Any] = {
    "yaml": {
        "validate": True,
        "completion": True,
        "hover": False,
        "schemaStore": {"enable": False},
        "kubernetesCRDStore": {"enable": False},
        "schemas": {},
        "format": {"enable": False},
    },
    "http": {"proxy": "", "proxyStrictSSL": False},
    "[yaml]": {},
    "editor": {"tabSize": 2},
}
TIMEOUT = 30.0


class Editor:
    """One yaml-language-server process and the documents opened in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("ephemera-editor-test", "1")
        self.diagnostics: dict[str, list[list[types.Diagnostic]]] = defaultdict(list)
        self.pulls = 0
        self.applied = 0
        self.changed = asyncio.Condition()
        self._listen()

    def _listen(self) -> None:
        client = self.client

        @client.feature(types.WORKSPACE_CONFIGURATION)
        async def configuration(params: types.ConfigurationParams) -> list[Any]:
            sections = [item.section for item in params.items]
            if "yaml" in sections:
                await self._count("pulls")
            return [SETTINGS.get(section or "") for section in sections]

        @client.feature("yaml/schema/store/initialized")
        async def applied(params: Any) -> None:
            await self._count("applied")

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        async def diagnostics(params: types.PublishDiagnosticsParams) -> None:
            async with self.changed:
                self.diagnostics[params.uri].append(params.diagnostics)
                self.changed.notify_all()

        for method in ("client/registerCapability", "window/workDoneProgress/create"):
            client.feature(method)(lambda params: None)

    async def _count(self, name: str) -> None:
        async with self.changed:
            setattr(self, name, getattr(self, name) + 1)
            self.changed.notify_all()

    async def _until(self, ready: Any) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ready), TIMEOUT)

    async def __aenter__(self) -> Editor:
        assert SERVER.is_file(), f"{SERVER} is missing: run make setup (npm ci)"
        await self.client.start_io("node", str(SERVER), "--stdio", cwd=str(self.root))
        await self.client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=self.root.as_uri(),
                capabilities=types.ClientCapabilities(
                    workspace=types.WorkspaceClientCapabilities(configuration=True)
                ),
            )
        )
        self.client.protocol.notify("yaml/supportSchemaSelection", {})
        self.client.initialized(types.InitializedParams())
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=SETTINGS)
        )
        await self._until(lambda: self.pulls >= 2 and self.applied >= self.pulls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    async def open(self, path: Path) -> list[types.Diagnostic]:
        """Open `path` as an editor does; its diagnostics."""
        uri = path.resolve().as_uri()
        seen = len(self.diagnostics[uri])
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="yaml", version=1, text=path.read_text()
                )
            )
        )
        await self._until(lambda: len(self.diagnostics[uri]) > seen)
        return self.diagnostics[uri][seen]

    async def complete(self, path: Path, line: int, character: int) -> list[str]:
        """The labels offered at (line, character) of an open document."""
        result = await self.client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=path.resolve().as_uri()),
                position=types.Position(line=line, character=character),
            )
        )
        items = result.items if isinstance(result, types.CompletionList) else result or []
        return [item.label for item in items]
