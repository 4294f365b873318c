"""The admin page's 微调 area in Chromium, on the real server with the golden tiny weights (stand-in trainers
exporting copies of the golden files, tests/support/finetune_server.py): upload clips with transcripts,
see them checked and listed, correct a transcript, fine-tune and follow the progress to the switch to
the voice's own weights, listen to one sentence zero-shot and fine-tuned side by side, then start again
and cancel."""
from __future__ import annotations


import httpx
import pytest
from playwright.sync_api import expect

from admin_page_helpers import add_model_by_api
from golden_data import model_file
from support.real_server import RealServer, golden_weight_args
from support.training_clips import SENTENCES, spoken_clips

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

ZH = SENTENCES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune-page")
    # The first fine-tune (1 GPT epoch: 2 steps) ends; the second (2 epochs) stops for good at GPT step 3.
    env = {"FINETUNE_DOUBLE_GPT": str(model_file("gpt/v2/model.ckpt")),
           "FINETUNE_DOUBLE_SOVITS": str(model_file("sovits/v2/model.pth")), "FINETUNE_DOUBLE_STOP_AT": "s1:3"}
    running = RealServer(root / "data", golden_weight_args("v2"), script="tests/support/finetune_server.py", env=env)
    with running:
        assert running.wait_models()["state"] == "ready"
        yield running


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    return spoken_clips(tmp_path_factory.mktemp("finetune-page-clips"))


def test_finetune_a_voice_from_the_admin_page(server, media, sentences, open_page, artifacts):
    add_model_by_api(server.url, media, "tuned", "小调")
    page, dialogs = open_page(server.url + "/index", viewport={"width": 1440, "height": 1000})
    page.locator('#model-rows tr[data-id="tuned"] button', has_text="微调").click()
    expect(page.locator("#area-finetune")).to_be_visible()
    expect(page.locator("#ft-weights")).to_have_text("当前使用默认权重（零样本）")

    # Two lines for three clips: refused in the page, nothing sent.
    page.set_input_files("#ft-files", [str(path) for path in sentences])
    page.fill("#ft-transcripts", "\n".join(ZH[:2]))
    page.click("#ft-upload button[type=submit]")
    expect(page.locator("#ft-upload-msg")).to_contain_text("3 个片段需要 3 行转写文本")
    # English text for Chinese clips: the server's check names the clip.
    page.fill("#ft-transcripts", "\n".join([ZH[0], ZH[1], "This is English text."]))
    page.click("#ft-upload button[type=submit]")
    expect(page.locator("#ft-upload-msg")).to_contain_text("未添加：片段 s2.wav")
    page.fill("#ft-transcripts", "\n".join(ZH))
    page.click("#ft-upload button[type=submit]")
    expect(page.locator("#ft-upload-msg")).to_have_text("已添加 3 个片段", timeout=30000)
    expect(page.locator("#ft-clips tr")).to_have_count(3)
    expect(page.locator("#ft-summary")).to_contain_text("共 3 个片段")

    first = page.locator("#ft-clips tr").first.locator("input")
    first.fill("今天天气很好，我们去公园散步。")
    first.dispatch_event("change")
    expect(page.locator("#toast")).to_contain_text("转写已保存")
    listed = httpx.get(server.url + "/voice-models/tuned/training-data", timeout=30).json()["data"]["clips"]
    assert listed[0]["text"] == "今天天气很好，我们去公园散步。"

    page.fill("#ft-sovits", "1")
    page.fill("#ft-gpt", "1")
    page.fill("#ft-batch", "2")
    page.click("#ft-start")
    expect(page.locator("#ft-progress")).to_contain_text("已完成，音模已切换到微调权重", timeout=240000)
    expect(page.locator("#ft-weights")).to_contain_text("当前使用自有权重")
    assert page.locator("#ft-bar").evaluate("el => el.value") == 100
    record = httpx.get(server.url + "/voice-models/tuned", timeout=30).json()["data"]
    assert record["weights"]["owned"] and record["weights"]["sovits"].startswith("voices/tuned/weights/")

    page.fill("#ft-compare-text", "你好，欢迎使用语音合成系统。")
    page.click("#ft-compare")
    expect(page.locator("#ft-compare-msg")).to_have_text("合成完成", timeout=240000)
    for audio in ("#ft-zero", "#ft-tuned"):
        page.wait_for_function("id => { const a = document.querySelector(id); return a.src.startsWith('blob:') "
                               "&& a.readyState >= 1 && a.duration > 0; }", arg=audio)
    page.screenshot(path=str(artifacts / "admin-finetune.png"), full_page=True)

    # A second fine-tune, cancelled from the page while it trains (its trainer stops at GPT step 3).
    page.fill("#ft-gpt", "2")
    page.click("#ft-start")
    expect(page.locator("#ft-progress")).to_contain_text("训练 GPT", timeout=240000)
    expect(page.locator("#ft-cancel")).to_be_visible()
    page.click("#ft-cancel")
    expect(page.locator("#ft-progress")).to_contain_text("已取消", timeout=30000)
    assert any(kind == "confirm" and "取消微调" in message for kind, message in dialogs)
    expect(page.locator("#ft-cancel")).to_be_hidden()
    expect(page.locator("#ft-weights")).to_contain_text("当前使用自有权重")  # still the first fine-tune's
