"""A real browser (headless Chromium driven by Selenium) uses the studio's web UI: generates an image
(the pixels and recipe ``aigc generate`` writes), streams a text (the text the Pipeline gives), starts a training job,
watches its progress bar move and cancels it. Screenshots go to the test's tmp folder (and to
``$AIGC_STUDIO_SHOTS`` when set)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from serve.helpers import command_output, same_png

import aigc

CHROME = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROME is None or DRIVER is None,
                                reason="needs chromium and chromedriver (Debian: apt-get install chromium "
                                       "chromium-driver; .ci/run installs them)")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1500", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.binary_location = CHROME
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def shot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    keep = os.environ.get("AIGC_STUDIO_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(keep) / path.name)


def fill(driver, values: dict[str, object]) -> None:
    from selenium.webdriver.common.by import By

    for key, value in values.items():
        box = driver.find_element(By.ID, key)
        box.clear()
        box.send_keys(str(value))


def test_a_browser_generates_streams_trains_and_cancels(browser, studio, client, models_dir, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60, poll_frequency=0.05)
    browser.get(studio[0] + "/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#gallery li")) == len(client.get("/api/models").json())

    # an image: the grid the Pipeline makes for this seed
    Select(browser.find_element(By.ID, "gen-model")).select_by_value("image-gen")
    wait.until(lambda d: d.find_element(By.ID, "gen-fields").get_attribute("data-model") == "image-gen")
    fill(browser, {"p-n": 4, "p-seed": 3})
    browser.find_element(By.ID, "gen-submit").click()
    img = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#gen-output img")))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    served = client.get(img.get_attribute("src")).content
    command_output(models_dir / "image-gen", {"n": 4, "seed": 3}, tmp_path / "direct.png")
    assert same_png(served, tmp_path / "direct.png")
    shot(browser, tmp_path, "studio-image")

    # a text, streamed: what TextPipeline.generate gives
    Select(browser.find_element(By.ID, "gen-model")).select_by_value("text")
    wait.until(lambda d: d.find_element(By.ID, "gen-fields").get_attribute("data-model") == "text")
    wait.until(EC.visibility_of_element_located((By.ID, "gen-stream-row")))
    fill(browser, {"p-prompt": "The", "p-max_tokens": 12, "p-seed": 5, "p-temperature": 0.9})
    browser.find_element(By.ID, "gen-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "gen-status").text.startswith(("Done", "Failed")))
    assert browser.find_element(By.ID, "gen-status").text.startswith("Done")
    text = browser.execute_script("return document.getElementById('gen-text').textContent")
    assert text == aigc.load(models_dir / "text", device="cpu").generate("The", max_tokens=12, seed=5, temperature=0.9)
    shot(browser, tmp_path, "studio-text")

    # a training job: progress bar moves, then Cancel stops it with a checkpoint
    Select(browser.find_element(By.ID, "train-task")).select_by_value("image-gen")
    Select(browser.find_element(By.ID, "train-arch")).select_by_value("dcgan")
    fill(browser, {"train-steps": 50000, "train-name": "ui-dcgan", "train-extra": json.dumps(
        {"data": "digits", "image_size": 8, "features": 16, "latent_dim": 4, "batch_size": 8,
         "checkpoint_every": 10000, "sample_every": 5})})
    browser.find_element(By.CSS_SELECTOR, "#train-form button[type=submit]").click()
    job_id = wait.until(lambda d: d.find_element(By.ID, "train-status").text.split()[2]
                        if d.find_element(By.ID, "train-status").text.startswith("Training job") else None)
    item = wait.until(EC.presence_of_element_located((By.ID, f"job-{job_id}")))
    wait.until(lambda d: float(item.find_element(By.TAG_NAME, "progress").get_attribute("value")) >= 10)
    wait.until(lambda d: item.find_elements(By.CSS_SELECTOR, "img.preview"))
    browser.execute_script("arguments[0].scrollIntoView()", item)
    shot(browser, tmp_path, "studio-training")
    item.find_element(By.CSS_SELECTOR, "button.cancel").click()
    wait.until(lambda d: item.get_attribute("data-state") == "cancelled")
    assert not item.find_element(By.CSS_SELECTOR, "button.cancel").is_displayed()
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "cancelled" and "checkpoint saved" in job["error"]
    assert (studio[1].config.models / "ui-dcgan" / "model.safetensors").is_file()
    shot(browser, tmp_path, "studio-cancelled")
