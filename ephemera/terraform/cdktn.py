"""A Terraform provider's schema, read out of its prebuilt CDK Terrain bindings (the npm
package `@cdktn/provider-<name>`): no provider binary, no `terraform providers schema`.

The bindings are generated from `terraform providers schema -json`, and most of that
schema can be read back from them:

- the generated code, `lib/<module>/**/*.js`:
  - `static tfResourceType = "aws_x"` names a resource or data source (no `data_`);
  - a comment `// <name> - computed: B, optional: B, required: B` before every getter
    of a resource class and of every `…OutputReference` class carries the schema's flags,
    computed-only attributes included;
  - the getter (`getStringAttribute('x')`, `new FooList(this, "x", wrapsSet)`, …) gives
    the primitive type, list or set, and the nested class;
  - `synthesizeHclAttributes()` and `fooToHclTerraform(struct)` give each settable
    argument's collection kind and storage type (`stringList` …) and, through
    `listMapperHcl(fn, true|false)`, whether it is a block.
- the assembly, `.jsii`: a property documented `"<name> block."` is a block (the
  generator writes that only for block types), which tells a `single` block from an
  object attribute; the provider's config interface says which arguments are optional.

What the bindings lose: min_items and max_items other than "at least 1" and "exactly 1",
the schema version, descriptions, sensitive and deprecated flags, conflicts, validators
and defaults. Trees the generator replaced with `any` come out as `dynamic` attributes
(`x_opaque_block` where they really are blocks); a struct that refers to its own
ancestor (aws_wafv2's nested `statement`) is emitted as `{"x_recursive_ref": <path>}`.
Names are never guessed from camelCase: they come from the flag comments and the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_CLASS = re.compile(r"^class (\w+) extends ([\w.]+) \{\n(.*?)^\}", re.M | re.S)
_HCL_FUNCTION = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}", re.M | re.S)
_HCL_ENTRY = re.compile(
    r'^\s+"?([A-Za-z0-9_]+)"?: \{\n\s+value: (.*),\n\s+isBlock: (?:true|false),\n'
    r'\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",\n\s+\},?$',
    re.M,
)
_FLAGS = re.compile(
    r"^\s+// ([A-Za-z0-9_]+) - computed: (true|false), optional: (true|false), "
    r"required: (true|false)\n",
    re.M,
)
_NEW = re.compile(r'^\s+_\w+ = new (?:\w+\.)?(\w+)\(this, "([^"]+)"(?:, (true|false))?\);', re.M)
_GETTER = re.compile(r"^\s+get (\w+)\(\) \{\n\s+return (.*?);\n", re.M)
_TF_TYPE = re.compile(r'static tfResourceType = "([^"]+)";')
_ELEMENT = re.compile(r"get\((?:index|key)\) \{\n\s+return new (?:\w+\.)?(\w+)\(")
_LIST_MAPPER = re.compile(r"listMapperHcl\((?:\(0, )?[\w.]+\)?, (true|false)\)")
_SYNTHESIZE = re.compile(r"synthesizeHclAttributes\(\) \{\n(.*?)\n    \}\n", re.S)
_DOC_LINK = re.compile(r"\{@link \S+#(\w+) \w+#\w+\}")
_TO_HCL_CALL = re.compile(r"(\w+)ToHclTerraform\b")

_PRIMITIVE_GETTERS: list[tuple[str, Any]] = [
    ("cdktn.Fn.tolist(this.getListAttribute(", ["set", "string"]),
    ("cdktn.Fn.tolist(this.getNumberListAttribute(", ["set", "number"]),
    ("this.getStringAttribute(", "string"),
    ("this.getNumberAttribute(", "number"),
    ("this.getBooleanAttribute(", "bool"),
    ("this.getStringMapAttribute(", ["map", "string"]),
    ("this.getNumberMapAttribute(", ["map", "number"]),
    ("this.getBooleanMapAttribute(", ["map", "bool"]),
    ("this.getAnyMapAttribute(", ["map", "dynamic"]),
    ("this.getListAttribute(", ["list", "string"]),
    ("this.getNumberListAttribute(", ["list", "number"]),
    ("this.interpolationForAttribute(", "dynamic"),
]
_MAP_CLASSES = {
    "StringMap": ["map", "string"],
    "NumberMap": ["map", "number"],
    "BooleanMap": ["map", "bool"],
    "AnyMap": ["map", "dynamic"],
}
_STORAGE_BASES = [
    ("string", "string"),
    ("number", "number"),
    ("boolean", "bool"),
    ("any", "dynamic"),
]
KINDS = {
    "TerraformResource": "resource_schemas",
    "TerraformDataSource": "data_source_schemas",
    "TerraformEphemeralResource": "ephemeral_resource_schemas",
    "TerraformProvider": "provider",
}


def package_metadata(package_dir: Path) -> dict[str, Any]:
    """package.json: name, version, and the provider it was generated from."""
    data = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    provider = (data.get("cdktn") or data.get("cdktf") or {}).get("provider") or {}
    return {
        "package": data["name"],
        "version": data["version"],
        "provider_source": provider.get("name"),
        "provider_version": provider.get("version"),
    }


def derive(package_dir: Path) -> dict[str, Any]:
    """{provider, resource_schemas, data_source_schemas, ephemeral_resource_schemas} of
    the unpacked package in `package_dir` (the folder holding .jsii, package.json, lib/)."""
    return _Deriver(package_dir).run()


def _storage_type(storage: str, kind: str) -> Any:
    """A storage class type (`stringListList` …) and HCL kind as a type (`["set", …]`)."""
    for prefix, base in _STORAGE_BASES:
        if storage.startswith(prefix):
            rest, result = storage[len(prefix) :], base
            break
    else:
        return None
    wrappers = re.findall(r"List|Map", rest)
    if "".join(wrappers) != rest:
        return None
    for i, wrapper in enumerate(wrappers):
        collection = "list" if wrapper == "List" else "map"
        if i == len(wrappers) - 1 and kind in ("list", "set", "map"):
            collection = kind  # the outermost collection kind is exact (set vs list)
        result = [collection, result]
    return result


def _module_source(directory: Path) -> str:
    """All the JS of one lib/<module>/ folder (index.js and index-structs/*.js)."""
    chunks = []
    for path in sorted(directory.rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        cut = text.find("\n//# sourceMappingURL")
        chunks.append(text if cut < 0 else text[: cut + 1])
    return "\n".join(chunks)


class _Module:
    def __init__(self, directory: Path) -> None:
        source = _module_source(directory)
        self.classes = {
            m.group(1): (m.group(2).split(".")[-1], m.group(3)) for m in _CLASS.finditer(source)
        }
        self.hcl_functions = {m.group(1): m.group(2) for m in _HCL_FUNCTION.finditer(source)}

    def hcl(self, struct: str) -> dict[str, dict[str, str]]:
        return _hcl_entries(self.hcl_functions.get(struct[:1].lower() + struct[1:], ""))


def _hcl_entries(body: str) -> dict[str, dict[str, str]]:
    return {
        m.group(1): {"value": m.group(2), "type": m.group(3), "storage": m.group(4)}
        for m in _HCL_ENTRY.finditer(body)
    }


def _flagged_getters(body: str) -> list[tuple[str, dict[str, bool], str]]:
    """(name, flags, the code up to the next flag comment) in source order."""
    found = list(_FLAGS.finditer(body))
    result = []
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(body)
        flags = {
            "required": match.group(4) == "true",
            "optional": match.group(3) == "true",
            "computed": match.group(2) == "true",
        }
        result.append((match.group(1), flags, body[match.end() : end]))
    return result


def _getter_type(chunk: str) -> Any:
    getter = _GETTER.search(chunk)
    if not getter:
        return None
    expression = getter.group(2).removeprefix("cdktn.Token.asNumberList(")
    for prefix, found in _PRIMITIVE_GETTERS:
        if expression.startswith(prefix):
            return found
    return None


class _Deriver:
    def __init__(self, package_dir: Path) -> None:
        self.package_dir = package_dir
        self.block_marked: dict[str, dict[str, bool]] = {}  # interface → {name: is a block}
        self.optional: dict[str, dict[str, bool]] = {}  # interface → {name: optional}
        self.config_interface: dict[str, str] = {}  # class → its config interface
        self._load_assembly()

    def _load_assembly(self) -> None:
        assembly = json.loads((self.package_dir / ".jsii").read_text(encoding="utf-8"))
        for entry in assembly["types"].values():
            if entry["kind"] == "class":
                parameters = (entry.get("initializer") or {}).get("parameters", [])
                if len(parameters) == 3 and "fqn" in parameters[2].get("type", {}):
                    interface = parameters[2]["type"]["fqn"].split(".")[-1]
                    self.config_interface[entry["name"]] = interface
                continue
            marked, optional = {}, {}
            for prop in entry.get("properties", []):
                docs = prop.get("docs", {})
                link = _DOC_LINK.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
                name = link.group(1) if link else prop["name"]
                marked[name] = docs.get("summary", "") == name + " block."
                optional[name] = bool(prop.get("optional"))
            self.block_marked[entry["name"]] = marked
            self.optional[entry["name"]] = optional

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "provider": None,
            "resource_schemas": {},
            "data_source_schemas": {},
            "ephemeral_resource_schemas": {},
        }
        for directory in sorted(p for p in (self.package_dir / "lib").iterdir() if p.is_dir()):
            module = _Module(directory)
            for name, (base, body) in module.classes.items():
                kind = KINDS.get(base)
                if kind is None:
                    continue
                tf_type = _TF_TYPE.search(body).group(1)  # type: ignore[union-attr]
                synthesized = _SYNTHESIZE.search(body)
                hcl = _hcl_entries(synthesized.group(1) if synthesized else "")
                interface = self.config_interface.get(name, name + "Config")
                if kind == "provider":
                    result["provider"] = self._provider(module, hcl, interface, [tf_type])
                else:
                    result[kind][tf_type] = self._block(module, name, hcl, interface, [tf_type])
        return result

    # --- resources, data sources and their nested blocks --------------------------------

    def _block(
        self,
        module: _Module,
        class_name: str,
        hcl: dict[str, dict[str, str]],
        interface: str,
        path: list[str],
        as_object: bool = False,
    ) -> dict[str, Any]:
        """The schema block of a resource class or of an `…OutputReference` class."""
        body = module.classes[class_name][1]
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        marks = self.block_marked.get(interface, {})
        for name, flags, chunk in _flagged_getters(body):
            entry = hcl.get(name)
            if entry and "markWriteOnlyAttribute" in entry["value"]:
                flags = {**flags, "write_only": True}
            created = _NEW.search(chunk)
            nested = created.group(1) if created and created.group(2) == name else None
            if nested in _MAP_CLASSES:
                attributes[name] = {"type": _MAP_CLASSES[nested], **flags}
            elif nested is None:
                attributes[name] = {
                    "type": self._simple_type(chunk, entry, marks.get(name), flags),
                    **flags,
                }
            else:
                wraps_set = created.group(3) if created else None
                context = (module, nested, wraps_set, entry, bool(marks.get(name)), as_object)
                self._complex(name, flags, context, path, attributes, block_types)
        out: dict[str, Any] = {"attributes": dict(sorted(attributes.items()))}
        if block_types:
            out["block_types"] = dict(sorted(block_types.items()))
        elif not as_object:
            out["block_types"] = {}
        return out

    def _simple_type(
        self, chunk: str, entry: dict[str, str] | None, marked: bool | None, flags: dict[str, Any]
    ) -> Any:
        found = _getter_type(chunk)
        if entry:  # settable: the HCL metadata is authoritative for collections
            found = _storage_type(entry["storage"], entry["type"]) or found
            if entry["storage"] == "any" and marked:
                flags["x_opaque_block"] = True  # a block the generator replaced with `any`
        return found or "dynamic"

    def _complex(
        self,
        name: str,
        flags: dict[str, Any],
        context: tuple[Any, ...],
        path: list[str],
        attributes: dict[str, Any],
        block_types: dict[str, Any],
    ) -> None:
        """A list, map or OutputReference of a struct: a nested block or an object attribute."""
        module, nested, wraps_set, entry, marked, as_object = context
        base = module.classes.get(nested, ("?", ""))[0]
        if base in ("ComplexList", "ComplexMap"):
            element = _ELEMENT.search(module.classes[nested][1]).group(1)
            collection = (
                "map" if base == "ComplexMap" else ("set" if wraps_set == "true" else "list")
            )
        else:
            element, collection = nested, None
        struct = element.removesuffix("OutputReference")
        is_block, max_one, collection = _block_shape(entry, marked, collection, as_object)
        if struct in path[2::2]:
            self._recursive(
                name, flags, struct, path, is_block, collection, max_one, block_types, attributes
            )
            return
        inner_path = [*path, name, struct]
        if is_block:
            inner = self._block(module, element, module.hcl(struct), struct, inner_path)
            block_types[name] = _block_type(collection, inner, flags["required"], max_one)
            return
        inner = self._block(module, element, module.hcl(struct), struct, inner_path, as_object=True)
        mode = "single" if collection in (None, "object") else collection
        attributes[name] = {**_object_attribute(inner["attributes"], flags, mode), **flags}

    def _recursive(
        self,
        name: str,
        flags: dict[str, Any],
        struct: str,
        path: list[str],
        is_block: bool,
        collection: str | None,
        max_one: bool,
        block_types: dict[str, Any],
        attributes: dict[str, Any],
    ) -> None:
        """A struct that refers to its own ancestor (the generator's loop detection): a
        reference to the ancestor's path instead of an endless tree."""
        i = path[2::2].index(struct)
        ancestor = ".".join(path[1 : 2 + 2 * i : 2])
        inner = {"attributes": {}, "block_types": {}, "x_recursive_ref": ancestor}
        if is_block:
            block_types[name] = _block_type(collection, inner, flags["required"], max_one)
        else:
            attributes[name] = {"type": "dynamic", **flags}

    # --- the provider's own configuration -----------------------------------------------

    def _provider(
        self, module: _Module, hcl: dict[str, dict[str, str]], interface: str, path: list[str]
    ) -> dict[str, Any]:
        """The provider block: it has no getters, so it is read from the HCL functions and
        the config interface's optional flags (provider arguments are never computed)."""
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        optional = self.optional.get(interface, {})
        marks = self.block_marked.get(interface, {})
        for name, entry in hcl.items():
            if path == ["aws"] and name == "alias":
                continue  # added by the generator, not part of the provider's schema
            is_optional = optional.get(name, True)
            function = _TO_HCL_CALL.search(entry["value"])
            if (
                function
                and not entry["value"].startswith("cdktn." + function.group(1))
                and marks.get(name)
            ):
                struct = function.group(1)[:1].upper() + function.group(1)[1:]
                inner = self._provider(module, module.hcl(struct), struct, [*path, name, struct])
                mode = entry["type"] if entry["type"] in ("list", "set") else "single"
                block = {"nesting_mode": mode, "block": inner}
                if not is_optional and mode != "single":
                    block["min_items"] = 1
                if not _LIST_MAPPER.search(entry["value"]) and entry["type"] in ("list", "set"):
                    block["max_items"] = 1
                block_types[name] = block
                continue
            attributes[name] = {
                "type": _storage_type(entry["storage"], entry["type"]) or "dynamic",
                "required": not is_optional,
                "optional": is_optional,
                "computed": False,
            }
        return {
            "attributes": dict(sorted(attributes.items())),
            "block_types": dict(sorted(block_types.items())),
        }


def _block_shape(
    entry: dict[str, str] | None, marked: bool, collection: str | None, as_object: bool
) -> tuple[bool, bool, str | None]:
    """(is a block, max_items is 1, nesting/collection) of a struct-typed argument."""
    if entry is None or as_object:
        return False, False, "object" if entry is None and collection is None else collection
    value, kind = entry["value"], entry["type"]
    mapper = _LIST_MAPPER.search(value)
    if mapper:
        return mapper.group(1) == "true", False, kind if kind in ("list", "set") else collection
    if "hashMapperHcl(" in value:
        return marked, False, "map"
    if kind in ("list", "set"):
        return True, True, kind  # a list/set struct without a mapper: max_items = 1
    if kind == "struct":
        return marked, False, "single" if marked else "object"
    return False, False, collection


def _block_type(
    mode: str | None, inner: dict[str, Any], required: bool, max_one: bool
) -> dict[str, Any]:
    block: dict[str, Any] = {"nesting_mode": mode, "block": inner}
    if mode in ("list", "set"):
        if required:
            block["min_items"] = 1  # the exact value is lost: only "at least one" survives
        if max_one:
            block["max_items"] = 1
    return block


def _object_attribute(inner: dict[str, Any], flags: dict[str, Any], mode: str) -> dict[str, Any]:
    """An object-typed attribute; a `nested_type` when its attributes carry flags of their
    own (a plugin-framework nested attribute)."""

    def key(attribute: dict[str, Any]) -> tuple[Any, ...]:
        return (attribute["required"], attribute["optional"], attribute["computed"])

    if inner and any(key(a) != key(flags) for a in inner.values()):
        return {"nested_type": {"attributes": inner, "nesting_mode": mode}}
    shape = ["object", {k: _cty_of(v) for k, v in sorted(inner.items())}]
    return {"type": shape if mode == "single" else [mode, shape]}


def _cty_of(attribute: dict[str, Any]) -> Any:
    """The type of an attribute, a nested_type turned into an object type."""
    if "type" in attribute:
        return attribute["type"]
    nested = attribute["nested_type"]
    shape = ["object", {k: _cty_of(v) for k, v in sorted(nested["attributes"].items())}]
    return shape if nested["nesting_mode"] == "single" else [nested["nesting_mode"], shape]
