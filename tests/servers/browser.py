"""Debian's headless Chromium driven by Selenium through Debian's chromedriver.

Selenium is given both paths (`/usr/bin/chromedriver` and the browser binary),
so Selenium Manager never runs and nothing is downloaded. chromedriver starts
as the leader of its own process group, and Chromium with its zygotes,
renderers and utility processes stays in that group. Chromium's crash
handler (`chrome_crashpad_handler`) is the exception: it starts a session of
its own, parented to init, and no switch stops it from starting
(`--disable-crash-reporter` and `--disable-breakpad` do not;
`--disable-crashpad-for-testing` leaves the browser hanging). HOME, TMPDIR and
the XDG directories point into the browser's temporary directory, so nothing
is written outside it, and the crash handler's database, and with it its
command line, names that directory: that is how `stop` finds it and makes
sure it is gone too.

`/usr/lib/chromium/chromium` is the browser itself; `/usr/bin/chromium` is
Debian's wrapper script, which adds flags of its own (GPU rasterisation,
extensions) and is left out.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.remote_connection import RemoteConnection

from .process import ServerError, group_members, processes_naming, tail

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/lib/chromium/chromium")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--lang=en-US",
)
"""Headless as root, with nothing that reaches out to the network by itself."""


class Browser:
    """One headless Chromium and its chromedriver; start() once, fresh() per test, stop()."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 30) -> None:
        self.width = width
        self.height = height
        self.timeout = timeout
        self._directory: Path | None = None
        self._driver: webdriver.Chrome | None = None
        self._pgid: int | None = None
        self.timings: dict[str, float] = {}

    @property
    def directory(self) -> Path:
        """Return the browser's temporary directory (profile, HOME, logs)."""
        if self._directory is None:
            raise ServerError("the browser has not been started")
        return self._directory

    @property
    def log(self) -> Path:
        """Return chromedriver's log (with Chromium's own output)."""
        return self.directory / "chromedriver.log"

    @property
    def driver(self) -> webdriver.Chrome:
        """Return the WebDriver of the running browser."""
        if self._driver is None:
            raise ServerError("the browser is not running")
        return self._driver

    @property
    def pid(self) -> int:
        """Return the PID of chromedriver, the leader of the browser's process group."""
        if self._pgid is None:
            raise ServerError("the browser is not running")
        return self._pgid

    def processes(self) -> list[int]:
        """Return every live process of this browser: its group and its crash handlers."""
        found = set(processes_naming(str(self._directory))) if self._directory else set()
        if self._pgid is not None:
            found.update(group_members(self._pgid))
        return sorted(found)

    def options(self) -> Options:
        """Return the Chromium options: headless, private profile, window size."""
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.directory / 'profile'}")
        options.add_argument(f"--window-size={self.width},{self.height}")
        return options

    def start(self) -> None:
        """Start chromedriver and Chromium; return once a page can be driven."""
        if self._driver is not None:
            return
        for path in (CHROMEDRIVER, CHROMIUM):
            if not path.exists():
                raise ServerError(f"{path} is missing: install Debian's chromium chromium-driver")
        started = time.monotonic()
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="portal-sync-chromium-"))
            atexit.register(self.stop)
        home = self.directory
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
        }
        service = Service(
            executable_path=str(CHROMEDRIVER),
            log_output=str(self.log),
            env=environment,
            popen_kw={"start_new_session": True},
        )
        try:
            driver = webdriver.Chrome(service=service, options=self.options())
        except WebDriverException as exc:
            process = getattr(service, "process", None)
            if process is not None:
                self._pgid = process.pid
            self._reap()
            raise ServerError(
                f"chromedriver/chromium did not start: {exc.msg}; last lines of {self.log}:\n"
                f"{tail(self.log)}"
            ) from exc
        self._pgid = service.process.pid
        self._driver = driver
        if isinstance(driver.command_executor, RemoteConnection):
            driver.command_executor.client_config.timeout = self.timeout
        driver.set_page_load_timeout(self.timeout)
        driver.set_script_timeout(self.timeout)
        self.timings.setdefault("start", time.monotonic() - started)

    def alive(self) -> bool:
        """Return whether the browser still answers WebDriver commands."""
        if self._driver is None:
            return False
        try:
            self._driver.window_handles  # noqa: B018
        except WebDriverException:
            return False
        return True

    def fresh(self) -> webdriver.Chrome:
        """Return the driver with one blank window and no cookies, cache or storage of any site.

        A browser that stopped answering is started again first.
        """
        if not self.alive():
            self.halt()
            self.start()
        driver = self.driver
        handles = driver.window_handles
        for handle in handles[1:]:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(handles[0])
        driver.get("about:blank")
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
        driver.set_window_size(self.width, self.height)
        return driver

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the current page at `path` and return the path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)):
            raise ServerError(f"the browser could not save a screenshot to {path}")
        return path

    def halt(self) -> None:
        """End the WebDriver session and every process of the browser, keeping the directory."""
        if self._driver is not None:
            with contextlib.suppress(WebDriverException, OSError):
                self._driver.quit()
            self._driver = None
        self._reap()

    def _reap(self) -> None:
        """Stop what is left of chromedriver's group and of the crash handlers, by PID."""
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pgid, signal.SIGKILL)
            self._pgid = None
        deadline = time.monotonic() + 10
        while left := self.processes():
            if time.monotonic() > deadline:
                raise ServerError(f"browser processes {left} outlived the stop")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the browser and delete its profile and logs."""
        self.halt()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
        atexit.unregister(self.stop)
