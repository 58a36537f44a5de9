// Journeys through the probity portal in the system's headless Chromium.
//
// Run by crates/cli/tests/browser.rs against a running `probity demo`, with
//   BASE_URL       where the portal is served
//   AUTHORITY_KEY  the demo authority's key
//   AUTHORITY_ID   the demo authority's id
//   COMPANY_KEY    the demo company's credential
//   COMPANY_ID     the demo company's code
//   SUBSCRIBER_KEY the demo bank's subscriber key
//   SCREENSHOTS    the directory screenshots are written to
//   CHROMIUM       the browser (default /usr/bin/chromium)
// Exits non-zero, naming the journey and the step, if anything fails.

import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const authorityKey = process.env.AUTHORITY_KEY;
const companyKey = process.env.COMPANY_KEY;
const companyId = process.env.COMPANY_ID;
const authorityId = process.env.AUTHORITY_ID;
const subscriberKey = process.env.SUBSCRIBER_KEY;
const shots = process.env.SCREENSHOTS || "screenshots";
for (const [k, v] of Object.entries({ base, authorityKey, authorityId, companyKey, companyId, subscriberKey })) {
  if (!v) throw new Error(`missing ${k}`);
}
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});

// Script errors and outside requests seen on any page.
const problems = [];

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function newPage(options = {}) {
  const context = await browser.newContext({ locale: "en-GB", ...options });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
  // Nothing may load from anywhere but the server.
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (!url.startsWith(base) && !url.startsWith("data:")) {
      problems.push(`${page.url()} asked for an outside resource: ${url}`);
      return route.abort();
    }
    return route.continue();
  });
  return page;
}

async function signIn(page, key) {
  await page.goto(`${base}/account/sign-in`);
  await page.getByLabel("Credential or key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/account`);
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${base}/`);
}

const journeys = {
  async "the verify page names the witnesses that cosigned"() {
    const page = await newPage();
    // The demo's two witnesses cosign within seconds of the start.
    for (let i = 0; ; i++) {
      const r = await page.request.get(`${base}/v1/log/checkpoint`);
      if (r.status() === 200 && (await r.text()).split("\n").filter((l) => l.startsWith("\u2014 witness-")).length === 2) break;
      assert.ok(i < 200, "the demo's checkpoint is cosigned by both witnesses");
      await new Promise((done) => setTimeout(done, 100));
    }
    await page.goto(`${base}/subjects/${companyId}/verify`);
    await page.getByRole("heading", { name: "Witnesses" }).waitFor();
    const rows = await page.locator("table").first().locator("tbody tr").allTextContents();
    assert.equal(rows.length, 2, `two witnesses cosigned: ${rows}`);
    assert.match(rows.join(" "), /w1.*w2/s);
    await shot(page, "verify-witnesses");
    await page.context().close();
  },

  async "search, profile, check receipt"() {
    const page = await newPage();
    const subject = await (await page.request.get(`${base}/v1/subjects/${companyId}`)).json();
    await page.goto(base);
    // Search by the first characters of the name, in its original script.
    const query = [...subject.name].slice(0, 4).join("");
    await page.getByLabel("Company name or code").fill(query);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/search\?q=/);
    await page.getByRole("link", { name: subject.name, exact: true }).first().click();
    await page.waitForURL(`${base}/subjects/${companyId}`);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), subject.name);
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    await shot(page, "profile");
    await page.getByRole("link", { name: "Check this entity for a measure" }).click();
    await page.getByLabel("Measure").selectOption("procurement.bid");
    await page.getByRole("button", { name: "Check", exact: true }).click();
    const receipt = page.locator(".receipt");
    await receipt.waitFor();
    const text = await receipt.textContent();
    assert.match(text, /cn-default \d{4}\.\d+/, "the receipt names the rulebook version");
    assert.match(text, /Log checkpoint/, "the receipt names the checkpoint");
    assert.match(text, /Allowed|Flagged|Denied/, "the receipt gives the answer");
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator("header.site").isVisible(), false, "print hides the header");
    await shot(page, "check-receipt-print");
    await page.context().close();
  },

  async "company objects, authority decides, profile shows it"() {
    const page = await newPage();
    await signIn(page, companyKey);
    const record = page.locator(`article.record[data-authority="${authorityId}"]`).filter({ has: page.getByRole("button", { name: "Object" }) }).first();
    const decisionNo = (await record.locator("h2 .code").textContent()).trim();
    await record.getByLabel("Grounds of your objection").fill("The decision names the wrong branch office.");
    await record.getByRole("button", { name: "Object" }).click();
    await page.locator(".flash.ok").waitFor();
    await shot(page, "company-objected");
    await signOut(page);

    await signIn(page, authorityKey);
    const item = page.locator("article.case", { hasText: decisionNo });
    await item.getByText("days left").first().waitFor();
    await item.getByLabel("Reason").fill("Admitted for examination.");
    await item.getByRole("button", { name: "Record decision" }).click();
    await page.locator(".flash.ok").waitFor();
    const again = page.locator("article.case", { hasText: decisionNo });
    await again.getByLabel("Withdrawn").check();
    await again.getByLabel("Reason").fill("The branch office was named wrongly; the decision is withdrawn.");
    await again.getByRole("button", { name: "Record decision" }).click();
    await page.locator(".flash.ok").waitFor();
    await shot(page, "authority-decided");
    await signOut(page);

    await page.goto(`${base}/subjects/${companyId}`);
    const timeline = page.locator("ol.timeline");
    const entries = timeline.locator("li", { hasText: decisionNo });
    const all = (await entries.allTextContents()).join("\n");
    assert.match(all, /Withdrawn/, `the timeline shows the withdrawal of ${decisionNo}:\n${all}`);
    await shot(page, "profile-after-decision");
    await page.context().close();
  },

  async "authority uploads a batch with a rejects report"() {
    const page = await newPage();
    await signIn(page, authorityKey);
    const authority = (await page.locator("main p .code").first().textContent()).trim();
    // The filing form checks codes and hashes before it is sent.
    await page.getByLabel("Company code").fill("123");
    await page.getByLabel("SHA-256 of the decision document").fill("not-a-hash");
    assert.equal(await page.locator("#f-subject:invalid").count(), 1, "a short code is invalid");
    assert.equal(await page.locator("#f-document_sha256:invalid").count(), 1, "a bad hash is invalid");
    await page.getByLabel("Company code").fill(companyId);
    assert.equal(await page.locator("#f-subject:invalid").count(), 0, "a full code is valid");
    const csv = [
      "authority,decision_no,subject,kind,decided,effective,basis,summary",
      `${authority},BROWSER-1,${companyId},penalty.minor,2026-01-05,2026-01-06,Administrative Penalty Law Art. 28,late annual report`,
      `${authority},BROWSER-2,${companyId},no.such.kind,2026-01-05,2026-01-06,Administrative Penalty Law Art. 28,unknown kind`,
    ].join("\n");
    await page.getByLabel("Batch file").setInputFiles({ name: "batch.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByRole("button", { name: "Upload" }).click();
    await page.getByText(/1 filed, 0 already on file, 1 rejected/).waitFor();
    const download = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: /rejects report/ }).click(),
    ]);
    const report = readFileSync(await download[0].path(), "utf8");
    assert.match(report, /^line,reason\n3,/m, `the report names line 3:\n${report}`);
    assert.match(report, /no\.such\.kind/, "the report says why");
    await shot(page, "console-upload");
    await page.context().close();
  },

  async "language switch sticks, and Accept-Language chooses"() {
    const page = await newPage();
    await page.goto(`${base}/rulebook`);
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.getByRole("link", { name: "简体中文" }).click();
    await page.waitForURL(`${base}/rulebook`);
    assert.equal(await page.getAttribute("html", "lang"), "zh-Hans");
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "规则");
    await page.getByRole("link", { name: "统计" }).click();
    assert.equal(await page.getAttribute("html", "lang"), "zh-Hans", "the choice sticks");
    await page.goto(`${base}/subjects/${companyId}`);
    assert.match(await page.locator("main").textContent(), /\d{4}年\d{1,2}月\d{1,2}日/, "dates in Chinese form");
    await shot(page, "profile-zh");
    await page.context().close();

    const zh = await newPage({ locale: "zh-CN" });
    await zh.goto(base);
    assert.equal(await zh.getAttribute("html", "lang"), "zh-Hans");
    await zh.context().close();
  },

  async "the rulebook page shows what the demo's adopted version changed"() {
    const page = await newPage();
    await page.goto(`${base}/rulebook`);
    // The demo starts on version 2023.5 and adopts 2026.12 over it; the form offers both.
    await page.getByLabel("Compare").selectOption("2023.5");
    await page.getByLabel("with").selectOption("2026.12");
    await Promise.all([page.waitForURL(/from=2023\.5&to=2026\.12/), page.getByRole("button", { name: "Show differences" }).click()]);
    const diff = await page.locator("table.diff").textContent();
    assert.match(diff, /kinds\.penalty\.minor\.repair_after/, "minor penalties became repairable");
    assert.match(diff, /calendar\.2026\.holidays/, "the 2026 holidays were entered");
    assert.match(diff, /Guo Ban Fa \[2025\] No\. 22/, "the new law is cited");
    await shot(page, "rulebook-diff");
    await page.context().close();
  },

  async "an SVG chart renders with data"() {
    const page = await newPage();
    await page.goto(`${base}/stats`);
    const bars = page.locator("#chart-grades svg rect.bar");
    assert.ok((await bars.count()) >= 2, "one bar per grade");
    const values = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("data-value"))));
    assert.ok(values.some((v) => v > 0), `some grade has subjects: ${values}`);
    const box = await page.locator("#chart-grades svg").boundingBox();
    assert.ok(box && box.width > 100 && box.height > 50, "the chart is drawn at a readable size");
    const tallest = await bars.evaluateAll((rs) => Math.max(...rs.map((r) => r.getBBox().height)));
    assert.ok(tallest > 10, "bars have height");
    assert.ok((await page.locator("#chart-records svg polyline").count()) >= 1, "records per month drawn");
    await shot(page, "stats");
    await page.context().close();
  },

  async "an inspection plan shows its draw by risk class, in both languages"() {
    const page = await newPage();
    await page.goto(`${base}/inspections`);
    await page.getByRole("link", { name: "2023-DR-01" }).click();
    await page.waitForURL(/\/inspections\/[^/]+\/2023-DR-01$/);
    const bars = page.locator("#sampling svg rect.bar");
    assert.ok((await bars.count()) >= 2, "drawn and not drawn, per class");
    const drawn = await bars.evaluateAll((rs) => rs.filter((_, i) => i % 2 === 0).map((r) => Number(r.getAttribute("data-value"))));
    assert.ok(drawn.some((v) => v > 0), `some class has firms drawn: ${drawn}`);
    const firms = page.locator("table.results").last().locator("tbody tr");
    assert.ok((await firms.count()) >= 1, "the firms drawn are listed");
    const first = (await firms.first().locator("td.code").textContent()).trim();
    const outcomes = await firms.evaluateAll((rows) => rows.map((r) => r.lastElementChild.textContent));
    assert.ok(outcomes.some((o) => o.includes("Inspected")), `some outcomes are filed: ${outcomes.slice(0, 5)}`);
    await shot(page, "inspection");
    await page.getByRole("link", { name: "简体中文" }).click();
    await page.waitForURL(/2023-DR-01/);
    assert.equal(await page.getAttribute("html", "lang"), "zh-Hans");
    assert.ok((await page.locator("h2").allTextContents()).includes("抽中的企业"), "the page is in Chinese");
    await shot(page, "inspection-zh");
    // A firm drawn links to its profile.
    await page.locator("table.results").last().getByRole("link").first().click();
    await page.waitForURL(new RegExp(`/subjects/${first}$`));
    assert.equal(await page.locator("#inspections-h").count(), 1, "the profile shows the draw");
    await page.context().close();
  },

  async "readable on a phone"() {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    for (const path of ["/", `/subjects/${companyId}`, "/stats", "/rulebook", "/inspections"]) {
      await page.goto(base + path);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} scrolls sideways by ${overflow}px on a phone`);
    }
    await page.goto(`${base}/subjects/${companyId}`);
    await shot(page, "profile-phone");
    await page.context().close();
  },

  async "a subscriber sees what changed for its companies since the last visit"() {
    // The checker runs on this page too, so the policy is set aside as for the others.
    const page = await newPage({ bypassCSP: true });
    await signIn(page, subscriberKey);
    await page.getByRole("heading", { name: "Watchlists of bank-demo" }).waitFor();
    await page.getByRole("heading", { name: /demo borrowers/ }).waitFor();
    const rows = await page.locator("table.changes tbody tr").allTextContents();
    assert.ok(rows.length > 0, "the demo's history changed answers on the watchlist");
    for (const row of rows) {
      assert.match(row, /\w+ \(log entry \d+\)|a date came|rulebook \S+ in force/, `each change names its cause: ${row}`);
    }
    assert.match(rows.join("\n"), /grade|lists|decision:/);
    let seen = rows.join("\n");
    await shot(page, "watchlist");
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } }));
    const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(serious.map((v) => v.id), [], "no serious accessibility violation");
    // What was shown is seen: each visit starts after the last, until none is left.
    let before = rows.join("\n");
    for (let visit = 0; ; visit++) {
      assert.ok(visit < 100, "the changes run out");
      await page.reload();
      if (await page.getByText("No changes since your last visit.").count()) break;
      const now = (await page.locator("table.changes tbody tr").allTextContents()).join("\n");
      assert.notEqual(now, before, "a visit shows what came after the last");
      before = now;
      seen += now;
    }
    // The demo's clock moved on from 2023 (expiries), then its history was filed today.
    assert.match(seen, /a date came/, "date-driven changes are shown");
    assert.match(seen, /record_filed \(log entry \d+\)/, "a filing names its log entry");
    await signOut(page);
    await page.context().close();
  },

  async "keyboard reaches the search"() {
    const page = await newPage();
    await page.goto(base);
    await page.keyboard.press("Tab");
    const first = await page.evaluate(() => document.activeElement.textContent);
    assert.equal(first.trim(), "Skip to content");
    await page.keyboard.press("Enter");
    let focused = "";
    for (let i = 0; i < 10 && focused !== "q"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement.id);
    }
    assert.equal(focused, "q", "the search box is reached by keyboard");
    await page.context().close();
  },

  async "no serious accessibility violations"() {
    // The checker is injected as an inline script, which the pages' Content-Security-Policy
    // forbids; this context alone sets the policy aside to run it.
    const page = await newPage({ bypassCSP: true });
    const pages = ["/", "/search?q=%E5%8C%97%E4%BA%AC", `/subjects/${companyId}`, `/subjects/${companyId}/verify`,
      `/check?subject=${companyId}&measure=procurement.bid`, "/lists", "/lists/abnormal_operations", "/rulebook",
      "/stats", "/account/sign-in", "/inspections"];
    const violations = [];
    for (const path of pages) {
      await page.goto(base + path);
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(() =>
        window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } }));
      for (const v of result.violations) {
        if (v.impact === "serious" || v.impact === "critical") {
          violations.push(`${path}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`);
        }
      }
    }
    assert.deepEqual(violations, [], violations.join("\n"));
    await page.context().close();
  },
};

let failed = 0;
for (const [name, run] of Object.entries(journeys)) {
  const started = Date.now();
  try {
    await run();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
await browser.close();
if (problems.length) {
  failed++;
  console.log(`FAIL pages: ${problems.join("\n")}`);
}
console.log(`${Object.keys(journeys).length - failed} passed, ${failed} failed; screenshots in ${shots}`);
process.exit(failed ? 1 : 0);
