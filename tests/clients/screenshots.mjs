// `./dev screenshots`: a full-page screenshot of every page of the web
// face, signed out and signed in, in English and Chinese, into
// $GUISE_SCREENSHOTS_DIR (under target/, for review; not committed).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const BASE = process.env.GUISE_URL;
const USER = process.env.GUISE_USER;
const PASSWORD = process.env.GUISE_PASSWORD;
const OUT = process.env.GUISE_SCREENSHOTS_DIR;
mkdirSync(OUT, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.GUISE_CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let shots = 0;
for (const locale of ["en", "zh-CN"]) {
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ locale, viewport: { width, height: 800 } });
    const page = await context.newPage();
    const shoot = async (name) => {
      await page.screenshot({ path: `${OUT}/${locale}-${width}-${name}.png`, fullPage: true });
      shots++;
    };
    for (const [name, path] of [["landing", "/"], ["sign-in", "/auth/sign_in"], ["sign-up", "/auth/sign_up"],
                                ["confirmation-new", "/auth/confirmation/new"], ["about", "/about"],
                                ["public-face", "/@" + USER]]) {
      await page.goto(BASE + path);
      await shoot(name);
    }
    await page.goto(BASE + "/auth/sign_in");
    await page.fill("#login", USER);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(BASE + "/"), page.locator('form[action="/auth/sign_in"] button').click()]);
    if (shots <= 6) {
      // Something to show: a post as the pseudonym and one anonymously.
      for (const face of [null, "anonymous"]) {
        await page.fill("#status", face ? "An anonymous post, for the screenshots" : "A post by the pseudonym, for the screenshots");
        if (face) await page.check('input[name="face"][value="anonymous"]');
        await Promise.all([page.waitForURL("**/?posted=*"), page.locator("form.composer button[type=submit]").click()]);
        await shoot(face ? "posted-anonymously" : "posted");
      }
    }
    for (const [name, path] of [["home", "/"], ["local", "/web/timelines/local"], ["federated", "/web/timelines/federated"],
                                ["notifications", "/web/notifications"], ["anonymous", "/web/anonymous"],
                                ["faces", "/web/faces"], ["account", "/web/account"],
                                ["two-factor", "/web/account/two_factor"], ["search", "/web/search?q=" + USER]]) {
      await page.goto(BASE + path);
      await shoot(name);
    }
    // A thread, a report form and a profile, from the local timeline's first post.
    await page.goto(BASE + "/web/timelines/local");
    const links = page.locator('a[href^="/web/statuses/"][href$="/report"]');
    if (await links.count() > 0) {
      const report = await links.first().getAttribute("href");
      await page.goto(BASE + report.replace(/\/report$/, ""));
      await shoot("thread");
      await page.goto(BASE + report);
      await shoot("report");
      const who = await page.locator("a.who").first().getAttribute("href");
      await page.goto(BASE + who);
      await shoot("profile");
    }
    await context.close();
  }
}
await browser.close();
console.log(`screenshots: ${shots} written to ${OUT}`);
