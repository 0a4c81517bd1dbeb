"""The admin dashboard in a real browser: headless Chromium driven by Selenium.

Logs in, reads the dashboard's counts, opens a failed job, unfolds its traceback, presses
"Retry now" and sees it pending, then cancels a pending job. Pauses and resumes a queue
from the dashboard, adds a schedule and disables it, and asks a running job to stop and
sees it end cancelled. On every page the console holds no Content-Security-Policy
violation. Saves screenshots of the dashboard (light and dark, and with a queue paused),
the job list, job pages and the schedules under ``var/screenshots/``.

Needs the Debian packages ``chromium`` and ``chromium-driver``. Without them the test
fails and says so, unless ``JOBQUEUE_SKIP_BROWSER_TESTS=1`` asks to skip it. The browser
never leaves localhost: background networking is off and every other host resolves to
nothing and goes through a dead proxy.
"""

import base64
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from jobs import queues, schedule_services, services
from jobs.domain import Attempt, NewJob, Outcome, PoolInfo, Status
from jobs.results import Cancelled, Completed, Failed, Retried
from jobs.timeutil import utc_now

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "a-long-browser-test-password"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/jobs/handlers.py", line 131, in send_email\n'
    "    send_mail(subject=payload.get('subject', ''), message=payload.get('body', ''), ...)\n"
    '  File "/srv/app/.venv/lib/python3.11/site-packages/django/core/mail/__init__.py", line 92, in send_mail\n'
    "    return mail.send()\n"
    "smtplib.SMTPRecipientsRefused: {'ops@example.com': (550, b'5.1.1 Mailbox unavailable')}"
)


def screenshot_dir() -> Path:
    directory = Path(settings.VAR_DIR) / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Headless Chromium that talks only to localhost, with a fresh profile."""
    if os.environ.get("JOBQUEUE_SKIP_BROWSER_TESTS") == "1":
        pytest.skip("browser tests skipped: JOBQUEUE_SKIP_BROWSER_TESTS=1")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"headless Chromium is needed for the browser tests but {', '.join(missing)} is missing. "
            "Install it with `apt-get install -y chromium chromium-driver`, "
            "or set JOBQUEUE_SKIP_BROWSER_TESTS=1 to skip these tests.",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    # The driver's path is given, so Selenium Manager is not needed; make sure it never phones home.
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        # Nothing but localhost resolves, and anything else would go to a closed port.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=localhost;127.0.0.1",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1440,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def save_full_page(driver, name: str) -> Path:
    """A screenshot of the whole page, not just the window, as var/screenshots/<name>.png."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = screenshot_dir() / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def log_in(driver, live_server, next_path: str) -> None:
    """Log in as the test's superuser ``operator`` and land on ``next_path``."""
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server.url}/admin/login/?next={next_path}")
    driver.find_element(By.ID, "id_username").send_keys("operator")
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]"))
    assert driver.current_url == f"{live_server.url}{next_path}"


def click_and_load(driver, element) -> None:
    """Click a link or submit button and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(page))


def console_problems(driver) -> list[str]:
    """Console messages since the last call that report a Content-Security-Policy violation."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def assert_inside(driver, inner, outer) -> None:
    """``inner``'s box lies within ``outer``'s padding box (nothing spills over or is clipped)."""
    inner_box, outer_box = (
        driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];", element
        )
        for element in (inner, outer)
    )
    left, top, right, bottom = inner_box
    assert outer_box[0] <= left and outer_box[1] <= top and right <= outer_box[2] and bottom <= outer_box[3], (
        inner_box,
        outer_box,
    )


def finish_batch(store, *, at, completed: int, failed: int, rng: random.Random) -> None:
    """``completed`` + ``failed`` jobs created, claimed and finished around ``at``."""
    count = completed + failed
    if not count:
        return
    types = rng.choices(["email", "noop", "thumbnail", "webhook"], weights=[4, 3, 2, 1], k=count)
    new_jobs = [NewJob(type=job_type, payload={"n": index}, max_retries=2) for index, job_type in enumerate(types)]
    store.insert_many(new_jobs, now=at - timedelta(seconds=4))
    claimed = store.claim(owner="web-1:3141", limit=count, now=at - timedelta(seconds=3), lease_seconds=30)
    results = []
    for index, job in enumerate(claimed):
        failing = index < failed
        attempt = Attempt(
            started_at=at - timedelta(seconds=3),
            finished_at=at,
            worker="web-1:3141/worker-2",
            outcome=(Outcome.FAILED if failing else Outcome.COMPLETED).value,
            error="TimeoutError: upstream did not answer in 30 s" if failing else None,
        )
        results.append((Failed if failing else Completed)(job, attempt))
    store.record_results(results, now=at)


def seed_history(store, now) -> None:
    """A day of finished jobs, busier in the last hour, and one live worker pool."""
    rng = random.Random(11)
    for hours_ago in range(23, 0, -1):
        at = now - timedelta(hours=hours_ago, minutes=7)
        finish_batch(store, at=at, completed=rng.randint(20, 90), failed=rng.randint(0, 6), rng=rng)
    for minutes_ago in range(58, 0, -1):
        failed = rng.choice([0, 0, 0, 1, 2]) if minutes_ago % 13 else 4
        at = now - timedelta(minutes=minutes_ago, seconds=20)
        finish_batch(store, at=at, completed=rng.randint(2, 14), failed=failed, rng=rng)
    store.register_pool(
        PoolInfo(
            id="web-1:3141",
            host="web-1",
            pid=3141,
            concurrency=8,
            running=3,
            started_at=now - timedelta(hours=5, minutes=12),
            heartbeat_at=now - timedelta(seconds=2),
        )
    )


def make_failed_email_job(store):
    now = utc_now()
    job = services.enqueue(
        "email",
        {"to": "ops@example.com", "subject": "Your weekly report", "body": "Hello!\nHere it is."},
        max_retries=1,
        priority=100,
        clock=lambda: now - timedelta(seconds=40),
    )
    for attempt_number, retries_left in enumerate((True, False)):
        started = now - timedelta(seconds=30 - attempt_number * 15)
        [claimed] = store.claim(owner="web-1:3141", limit=1, now=started, lease_seconds=30)
        assert claimed.id == job.id
        attempt = Attempt(
            started_at=started,
            finished_at=started + timedelta(milliseconds=842),
            worker="web-1:3141/worker-5",
            outcome=Outcome.FAILED.value,
            error=TRACEBACK,
        )
        if retries_left:
            result = Retried(claimed, attempt, run_at=started + timedelta(seconds=2))
        else:
            result = Failed(claimed, attempt)
        assert store.record_results([result], now=started + timedelta(milliseconds=842)) == [True]
    return services.get_job(job.id)


def test_operator_retries_a_failed_job_and_cancels_a_pending_one(browser, live_server, sql_store):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    seed_history(sql_store, utc_now())
    failed = make_failed_email_job(sql_store)
    services.enqueue("noop", {})
    [_processing] = sql_store.claim(owner="web-1:3141", limit=1, now=utc_now(), lease_seconds=300)
    pending = services.enqueue("email", {"to": "new@example.com", "subject": "Welcome"})
    services.enqueue("noop", {}, delay_seconds=900)
    stats = services.queue_stats()

    # Log in: the dashboard sends a logged-out visitor to the admin login first.
    browser.get(f"{live_server.url}/admin/jobs/")
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]"))
    assert browser.current_url == f"{live_server.url}/admin/jobs/"

    # The dashboard's counts are the store's.
    for status in Status:
        count = browser.find_element(By.CSS_SELECTOR, f"a.jobs-card--{status} .jobs-card-count").text
        assert count == f"{stats.by_status[status]:,}", status
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.jobs-chart")) == 2
    assert "web-1" in browser.find_element(By.ID, "worker-pools").text
    assert browser.find_element(By.CSS_SELECTOR, "#worker-pools progress").get_attribute("value") == "3"
    assert (
        browser.execute_script(  # the chart's styles apply: its bars take the stylesheet's colour
            "return getComputedStyle(document.querySelector('svg.jobs-chart .jobs-chart-completed')).fill"
        )
        == "rgb(58, 154, 91)"
    )
    assert console_problems(browser) == []
    save_full_page(browser, "dashboard")
    dark = [{"name": "prefers-color-scheme", "value": "dark"}]
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": dark})
    # The admin fades link backgrounds (0.15 s): wait until the cards have the dark background.
    WebDriverWait(browser, 5).until(
        lambda driver: (
            driver.find_element(By.CSS_SELECTOR, "a.jobs-card--total").value_of_css_property("background-color")
            == "rgba(18, 18, 18, 1)"
        )
    )
    save_full_page(browser, "dashboard-dark")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # From the failed card to the list of failed jobs, then to the failed job.
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "a.jobs-card--failed"))
    assert browser.current_url.endswith("/admin/jobs/jobrecord/?status=failed")
    browser.save_screenshot(str(screenshot_dir() / "job-list.png"))  # the top of the page: 100 rows are long
    assert console_problems(browser) == []
    # Every status badge stays inside its column.
    for cell in browser.find_elements(By.CSS_SELECTOR, "#result_list td.field-status")[:20]:
        assert_inside(browser, cell.find_element(By.CSS_SELECTOR, ".jobs-badge"), cell)
    browser.get(f"{live_server.url}/admin/jobs/jobrecord/?status=processing")
    [processing_cell, *_] = browser.find_elements(By.CSS_SELECTOR, "#result_list td.field-status")
    assert_inside(browser, processing_cell.find_element(By.CSS_SELECTOR, ".jobs-badge"), processing_cell)
    # The filter headings read "↓ By status": a gap between the arrow and the words.
    gap = browser.execute_script(
        """const summary = document.querySelector('#changelist-filter details summary');
        const arrow = parseFloat(getComputedStyle(summary, '::before').width) || 0;
        const words = document.createRange();
        const text = [...summary.childNodes].find(node => node.nodeType === 3 && node.textContent.trim());
        const start = text.textContent.indexOf('B');
        words.setStart(text, start); words.setEnd(text, start + 1);
        return words.getBoundingClientRect().left - summary.getBoundingClientRect().left
            - parseFloat(getComputedStyle(summary).paddingLeft) - arrow;"""
    )
    assert gap >= 2, gap
    browser.get(f"{live_server.url}/admin/jobs/jobrecord/?status=failed")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{failed.id}"] th a'))
    assert browser.current_url.endswith(f"/admin/jobs/jobrecord/{failed.id}/change/")
    assert browser.find_element(By.ID, "job-status").text == "failed"

    # Tracebacks are folded until clicked.
    traceback = browser.find_element(By.CSS_SELECTOR, "#job-attempts details pre")
    assert not traceback.is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#job-attempts details summary").click()
    assert traceback.is_displayed()
    assert "SMTPRecipientsRefused" in traceback.text
    assert console_problems(browser) == []
    save_full_page(browser, "job-page")

    # Retry now: back to pending, with the admin's success banner.
    click_and_load(browser, browser.find_element(By.ID, "retry-now"))
    assert browser.find_element(By.ID, "job-status").text == "pending"
    assert "is pending and due now" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert services.get_job(failed.id).status == Status.PENDING
    save_full_page(browser, "job-page-after-retry")

    # Cancel a pending job.
    browser.get(f"{live_server.url}/admin/jobs/jobrecord/{pending.id}/change/")
    click_and_load(browser, browser.find_element(By.ID, "cancel-job"))
    assert browser.find_element(By.ID, "job-status").text == "cancelled"
    assert "was cancelled" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert services.get_job(pending.id).status == Status.CANCELLED
    assert console_problems(browser) == []


def test_a_running_jobs_page_shows_its_progress_live_and_a_finished_one_its_result(browser, live_server, sql_store):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    job = services.enqueue("echo", {"greeting": "hello"})
    [running] = sql_store.claim(owner="web-1:3141", limit=1, now=utc_now(), lease_seconds=300)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/jobs/jobrecord/{job.id}/change/")
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]"))
    assert browser.find_element(By.ID, "job-status").text == "processing"

    # The worker reports progress; the page, reloading itself, shows it without a click.
    reported = {"fraction": 0.4, "message": "resized 40 of 100", "updatedAt": "2026-01-01T00:00:00.000Z"}
    sql_store.renew([running], now=utc_now(), lease_seconds=300, progress={job.id: reported})
    reloading = WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    reloading.until(lambda driver: "resized 40 of 100" in driver.find_element(By.ID, "job-progress").text)
    assert browser.find_element(By.CSS_SELECTOR, "#job-progress progress").get_attribute("value") == "0.4"
    save_full_page(browser, "job-page-progress")

    # It completes with a result: the page shows it and stops reloading.
    attempt = Attempt(started_at=utc_now(), finished_at=utc_now(), worker="web-1:3141", outcome=Outcome.COMPLETED)
    assert sql_store.record_results([Completed(running, attempt, result={"greeting": "hello"})], now=utc_now())
    reloading.until(lambda driver: driver.find_element(By.ID, "job-status").text == "completed")
    assert '"greeting": "hello"' in browser.find_element(By.ID, "job-result").text
    assert browser.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]') == []
    assert console_problems(browser) == []


def test_operator_pauses_and_resumes_a_queue_from_the_dashboard(browser, live_server, sql_store):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    services.enqueue("noop", {}, queue="emails")
    services.enqueue("noop", {})
    log_in(browser, live_server, "/admin/jobs/")

    def state(queue: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'#queues tr[data-queue="{queue}"] .jobs-queue-state').text

    assert (state("emails"), state("default")) == ("running", "running")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, '#queues tr[data-queue="emails"] button'))
    assert browser.current_url == f"{live_server.url}/admin/jobs/"
    assert browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text == "Paused queue emails."
    assert (state("emails"), state("default")) == ("paused", "running")
    assert queues.paused_queues() == {"emails"}
    assert browser.find_element(By.CSS_SELECTOR, '#queues tr[data-queue="emails"] button').text == "Resume"
    assert console_problems(browser) == []
    save_full_page(browser, "dashboard-queue-paused")

    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, '#queues tr[data-queue="emails"] button'))
    assert browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text == "Resumed queue emails."
    assert state("emails") == "running"
    assert queues.paused_queues() == set()
    assert console_problems(browser) == []


def test_operator_adds_a_schedule_sees_its_next_run_and_disables_it(browser, live_server, sql_store):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    log_in(browser, live_server, "/admin/")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, 'a[href="/admin/jobs/schedulerecord/"]'))
    assert "No schedules." in browser.find_element(By.ID, "result_list").text
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#content-main a.addlink"))
    for field, value in {
        "name": "nightly-report",
        "type": "noop",
        "cron": "0 3 * * *",
        "timezone": "Europe/Paris",
    }.items():
        box = browser.find_element(By.ID, f"id_{field}")
        box.clear()
        box.send_keys(value)
    assert console_problems(browser) == []
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#content-main [type=submit]"))

    assert browser.current_url == f"{live_server.url}/admin/jobs/schedulerecord/"
    assert browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text == "Schedule “nightly-report” added."
    schedule = schedule_services.get_schedule("nightly-report")
    assert (schedule.cron, schedule.timezone, schedule.enabled) == ("0 3 * * *", "Europe/Paris", True)
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-schedule="nightly-report"]')
    assert schedule.next_run_at.strftime("%Y-%m-%d %H:%M:%S") in row.find_element(By.CSS_SELECTOR, ".next-run").text
    assert row.find_element(By.CSS_SELECTOR, ".last-run").text == "never"
    assert console_problems(browser) == []
    save_full_page(browser, "schedules")

    disable = row.find_element(By.XPATH, ".//button[normalize-space()='Disable']")
    click_and_load(browser, disable)
    assert (
        browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text == "Schedule “nightly-report” disabled."
    )
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-schedule="nightly-report"]')
    assert row.find_element(By.CSS_SELECTOR, ".next-run").text == "—"
    assert row.find_element(By.XPATH, ".//button[normalize-space()='Enable']")
    assert schedule_services.get_schedule("nightly-report").enabled is False
    assert console_problems(browser) == []


def test_operator_asks_a_running_job_to_stop_and_sees_it_end_cancelled(browser, live_server, sql_store):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    job = services.enqueue("sleep", {"seconds": 60})
    [running] = sql_store.claim(owner="web-1:3141", limit=1, now=utc_now(), lease_seconds=300)
    page = f"/admin/jobs/jobrecord/{job.id}/change/"
    log_in(browser, live_server, page)
    # A running job's page reloads itself: read it through a wait that outlasts a reload.
    reloading = WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    reloading.until(lambda driver: driver.find_element(By.ID, "job-status").text == "processing")

    click_and_load(browser, browser.find_element(By.ID, "cancel-job"))

    # The success message shows once, and the page may reload before it is read (the
    # test client checks its words); what persists is checked here.
    reloading.until(
        lambda driver: "Cancel requested (was processing)." in driver.find_element(By.ID, "job-history").text
    )
    assert browser.current_url == f"{live_server.url}{page}"
    reloading.until(lambda driver: driver.find_element(By.ID, "job-status").text == "processing")
    reloading.until(lambda driver: driver.find_element(By.ID, "job-cancel-requested").is_displayed())
    reloading.until(lambda driver: driver.find_element(By.ID, "job-cancel-requested-field").text.startswith("yes"))
    assert browser.find_elements(By.ID, "cancel-job") == []
    asked = services.get_job(job.id)
    assert (asked.status, asked.cancel_requested) == (Status.PROCESSING, True)
    assert console_problems(browser) == []

    # The worker hears of it at its next lease renewal; its handler stops: the page shows the end.
    assert sql_store.renew([running], now=utc_now(), lease_seconds=300).cancel_requested == {job.id}
    attempt = Attempt(started_at=utc_now(), finished_at=utc_now(), worker="web-1:3141", outcome=Outcome.CANCELLED)
    assert sql_store.record_results([Cancelled(running, attempt)], now=utc_now()) == [True]
    reloading.until(lambda driver: driver.find_element(By.ID, "job-status").text == "cancelled")
    assert browser.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]') == []
    assert console_problems(browser) == []
