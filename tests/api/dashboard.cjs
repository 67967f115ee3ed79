// Drives the dashboard in Debian's headless chromium through playwright-core (which
// downloads no browser): opens /#token=…, waits for ENV's row, clicks Extend (+4h) and
// waits for its expiry to move. Prints what it saw as one JSON object.
// Usage: node dashboard.cjs <base url> <token> <env> [screenshot.png]
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const [base, token, env, screenshot] = process.argv.slice(2);
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ephemera-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    timeout: 60000,
  });
  const seen = { console: [], requests: [] };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => seen.console.push(`${message.type()}: ${message.text()}`));
    page.on("request", (request) => seen.requests.push(request.url()));
    await page.goto(`${base}/#token=${encodeURIComponent(token)}`);

    const row = page.locator(`tr[data-env="${env}"]`);
    await row.locator("td.status", { hasText: "active" }).waitFor({ timeout: 30000 });
    const expires = row.locator("td.expires");
    await expires.locator("meter").waitFor();
    seen.hash = await page.evaluate(() => location.hash);
    seen.stored = await page.evaluate(() => sessionStorage.getItem("ephemera-token") !== null);
    seen.cookies = (await context.cookies()).length;
    seen.before = await expires.getAttribute("data-expires-at");
    seen.meter = Number(await expires.locator("meter").getAttribute("value"));
    seen.row = (await row.locator("td").allInnerTexts()).map((text) => text.trim());
    seen.links = await row.locator("a").evaluateAll((links) => links.map((a) => a.href));

    await row.locator("select.extend-by").selectOption("4h");
    await row.locator("button.extend").click();
    await page.waitForFunction(
      ([name, before]) => {
        const cell = document.querySelector(`tr[data-env="${name}"] td.expires`);
        return cell && cell.dataset.expiresAt && cell.dataset.expiresAt !== before;
      },
      [env, seen.before],
      { timeout: 30000 },
    );
    seen.after = await row.locator("td.expires").getAttribute("data-expires-at");
    seen.message = await page.locator("#message").innerText();
    seen.loginHidden = await page.locator("#login").isHidden();

    // the deploy's log, streamed as server-sent events into the log panel
    await page.locator("#runs tbody tr", { hasText: "deploy" }).locator("button.show-log").click();
    await page.locator("#log-state", { hasText: "succeeded" }).waitFor({ timeout: 30000 });
    seen.log = await page.locator("#log").innerText();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
