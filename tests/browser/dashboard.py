"""The dashboard in a real headless Chromium (Debian's, driven by Selenium
through Debian's chromedriver): the token is required when set, a call made
with curl appears without a reload, a failed SMS is retried from the page,
the customer composer and the simulator work. Run by scripts/browser-test.

SCREENSHOTS=DIR also saves a picture of each page there (docs/screenshots).
"""
import json
import os
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE = os.environ["GATEWAY"]
TOKEN = os.environ["ADMIN_TOKEN"]
KEY = "a73d5034210f702515128ac61193cd21"
SHOTS = os.environ.get("SCREENSHOTS")
results = []


def check(name, test):
    try:
        test()
        results.append((name, None))
        print(f"ok   {name}", flush=True)
    except Exception as error:  # noqa: BLE001 - every failure is reported, then the run fails
        results.append((name, error))
        print(f"FAIL {name}: {error!r}", flush=True)
        if driver is not None:
            driver.save_screenshot(f"target/browser-failure-{len(results)}.png")


def wait(predicate, what, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - the page may be between states
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def get(path):
    request = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read().decode()


def metric(name):
    for line in get("/metrics").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def call(caller, to="%2B14151234567"):
    with urllib.request.urlopen(f"{BASE}/v1/ivr?key={KEY}&from={urllib.parse.quote(caller)}&to={to}", timeout=10) as answer:
        return answer.read().decode()


def infobip(path, body):
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": "App infobip-api-key-0001", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read().decode())


def rows(section):
    return driver.find_elements(By.CSS_SELECTOR, f"#{section} tbody tr")


def tab(name):
    driver.find_element(By.CSS_SELECTOR, f"nav button[data-page='{name}']").click()
    wait(lambda: driver.find_element(By.ID, name).is_displayed(), f"the {name} page")


def shot(name):
    if SHOTS:
        time.sleep(0.3)
        driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1366,900"]:
    options.add_argument(flag)
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
driver = None
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
try:
    driver.get(BASE + "/")

    def token_required():
        wait(lambda: driver.find_element(By.ID, "login").is_displayed(), "the token form")
        assert not driver.find_element(By.ID, "calls").is_displayed(), "no data before the token"
        driver.find_element(By.ID, "token").send_keys("wrong-token")
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait(lambda: "refused" in driver.find_element(By.ID, "login-error").text, "the refusal")
        field = driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait(lambda: driver.find_element(By.ID, "calls").is_displayed(), "the calls page")
        wait(lambda: driver.find_element(By.ID, "live").text == "live", "the live stream")

    def call_appears_without_reload():
        before = len(rows("calls"))
        call("+14155550123")
        wait(lambda: any("+14155550123" in row.text for row in rows("calls")), "the new call's row")
        assert len(rows("calls")) == before + 1
        assert "dial" in rows("calls")[0].text
        shot("calls")

    def failed_sms_is_retried():
        call("+15005550001")  # the capture transport's invalid number: the SMS fails
        tab("sms")
        wait(lambda: any("failed" in row.text and row.find_elements(By.TAG_NAME, "button") for row in rows("sms")), "a failed SMS")
        failed = metric("ivr_sms_failed_total")
        row = next(row for row in rows("sms") if "failed" in row.text and row.find_elements(By.TAG_NAME, "button"))
        row.find_element(By.TAG_NAME, "button").click()
        wait(lambda: driver.find_element(By.ID, "live").text == "SMS re-queued", "the retry's acknowledgement")
        wait(lambda: metric("ivr_sms_failed_total") == failed + 1, "the retried attempt")
        shot("sms")

    def customer_composer():
        tab("threads")
        form = driver.find_element(By.ID, "compose")
        form.find_element(By.NAME, "from").send_keys("+14155550111")
        form.find_element(By.NAME, "to").send_keys("+14151234567")
        form.find_element(By.NAME, "text").send_keys("Hello from the dashboard")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lambda: "Hello from the dashboard" in driver.find_element(By.ID, "thread").text, "the message in its thread")
        wait(lambda: any("+14155550111" in row.text for row in rows("threads")), "the thread in the list")
        shot("threads")

    def deliveries_page():
        tab("deliveries")
        shot("deliveries")

    def simulator_plays_a_call():
        tab("simulations")
        form = driver.find_element(By.ID, "simulate")
        url = form.find_element(By.NAME, "url")
        url.clear()
        url.send_keys(f"{BASE}/v1/ivr?key={KEY}")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lambda: "Call ended: completed" in driver.find_element(By.ID, "transcript").text, "the transcript")
        assert "Dial +14155550100: completed" in driver.find_element(By.ID, "transcript").text
        wait(lambda: len(rows("simulations")) >= 1, "the journaled simulation")
        shot("simulations")

    def smartflo_page():
        tab("smartflo")
        wait(lambda: any("Acme IVR" in row.text for row in rows("smartflo")), "the example IVR")
        shot("smartflo")

    def infobip_launch_is_followed_live():
        tab("infobip")
        wait(lambda: "ahead of real time" in driver.find_element(By.ID, "clock-now").text, "the clock")
        scenario = infobip("/infobip/voice/ivr/1/scenarios", {"name": "Menu", "script": [
            {"say": "Press 2"}, {"collectInto": "choice", "options": {"maxInputLength": 1}}, {"hangup": "done"}]})
        infobip("/infobip/voice/ivr/1/messages", {"bulkId": "browser", "messages": [{"scenarioId": scenario["id"],
            "destinations": [{"to": "41793026001"}, {"to": "41793026003"}]}]})
        wait(lambda: any(row.text.startswith("browser acme") and " 0 1 1 0 0 " in row.text + " " for row in rows("infobip")),
             "the launch's row with one delivered and one undeliverable call")
        next(row for row in rows("infobip") if row.text.startswith("browser")).click()
        wait(lambda: "Pressed 2" in driver.find_element(By.ID, "launch").text, "the answered call's transcript")
        assert "41793026001 · undeliverable · 1 call(s) · USER_BUSY" in driver.find_element(By.ID, "launch").text
        before = json.loads(get("/admin/clock"))["ahead_seconds"]
        driver.find_element(By.CSS_SELECTOR, "#clock button[type=submit]").click()
        wait(lambda: "advanced 1m" in driver.find_element(By.CSS_SELECTOR, "#clock .result").text, "the clock's move")
        assert json.loads(get("/admin/clock"))["ahead_seconds"] >= before + 59
        shot("infobip")

    check("the token is required when set", token_required)
    check("a call made with curl appears without a reload", call_appears_without_reload)
    check("a failed SMS is retried from the page", failed_sms_is_retried)
    check("the customer composer writes into a thread", customer_composer)
    check("the deliveries page opens", deliveries_page)
    check("a simulated call is played from the page", simulator_plays_a_call)
    check("the Smartflo IVRs are listed", smartflo_page)
    check("an Infobip launch is followed live and the clock moved", infobip_launch_is_followed_live)
finally:
    driver.quit()

failed = sum(1 for _, error in results if error)
print(f"browser: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
