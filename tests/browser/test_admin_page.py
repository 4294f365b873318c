"""The admin page against the real server without weights: categories, voice models (avatar, clip
with its duration checked in the browser), filters, the server-side model picker, tasks that end
with the clear no-weights message, deletes and renames, escaping, a phone-sized screen."""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from admin_page_helpers import add_model_by_api

pytestmark = [pytest.mark.browser, pytest.mark.server]

XSS_NAME = "<img src=x onerror=alert(1)>"
FILLERS = 6  # more models than one list page of 5


def model_row(page, model_id: str):
    return page.locator(f'#model-rows tr[data-id="{model_id}"]')


def category_row(page, name: str):
    return page.locator("#category-rows tr", has=page.get_by_text(name, exact=True))


def create_model_in_page(page, media, model_id: str, name: str, category: str | None) -> None:
    page.fill("#m-name", name)
    page.fill("#m-id", model_id)
    page.select_option("#m-gender", "2")
    page.fill("#m-prompt", "今天天气真不错。")
    page.select_option("#m-lang", "all_zh")
    if category:
        page.locator("#m-cats label", has_text=category).locator("input").check()
    page.set_input_files("#m-avatar", str(media["avatar"]))
    page.set_input_files("#m-clip", str(media["clip"]))
    expect(page.locator("#m-clip-info")).to_contain_text("时长 5.00 秒")
    page.click("#model-form button[type=submit]")
    expect(page.locator("#model-msg")).to_contain_text("创建成功")
    expect(model_row(page, model_id)).to_be_visible()


def test_admin_page_without_weights(servers, media, open_page, artifacts):
    real = servers["real"]
    for n in range(FILLERS):
        add_model_by_api(real.url, media, f"filler{n}", f"填充音模 {n}")
    page, dialogs = open_page(real.url + "/index", viewport={"width": 1440, "height": 1000})

    # Health: a real badge and a banner that says what to do.
    expect(page.locator("#health")).to_contain_text("权重缺失")
    expect(page.locator("#health")).to_contain_text("CPU")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner")).to_contain_text("--gpt-path")
    expect(page.locator("#banner")).to_contain_text("GPT_SoVITS/pretrained_models")

    # Categories: an empty name is refused in the page, then one is created.
    page.click("#category-form button[type=submit]")
    expect(page.locator("#category-msg")).to_have_text("请填写分类名称")
    page.fill("#cat-name", "新闻播报")
    page.fill("#cat-desc", "正式、沉稳")
    page.click("#category-form button[type=submit]")
    expect(page.locator("#category-msg")).to_contain_text("创建成功")
    expect(category_row(page, "新闻播报").locator('td[data-label="音模数"]')).to_have_text("0")

    # A clip outside 3-10 s is refused in the browser, with its duration shown.
    page.set_input_files("#m-clip", str(media["short"]))
    expect(page.locator("#m-clip-info")).to_contain_text("时长 2.00 秒")
    expect(page.locator("#m-clip-info")).to_contain_text("3~10 秒")
    create_model_in_page(page, media, "xiaoyun", "小云", "新闻播报")
    create_model_in_page(page, media, "xss", XSS_NAME, None)
    expect(category_row(page, "新闻播报").locator('td[data-label="音模数"]')).to_have_text("1")

    # Escaping: the name is text, no element or dialog comes from it.
    expect(model_row(page, "xss").locator('td[data-label="名称"]')).to_have_text(XSS_NAME)
    assert page.locator('img[src="x"]').count() == 0

    # Paging and search.
    page.select_option("#list-size", "5")
    expect(page.locator("#list-pager")).to_have_text(f"第 1 页 / 共 2 页（共 {FILLERS + 2} 条）")
    page.click("#list-next")
    expect(page.locator("#list-pager")).to_contain_text("第 2 页")
    page.fill("#list-search", "小云")
    page.press("#list-search", "Enter")
    expect(page.locator("#model-rows tr")).to_have_count(1)
    page.fill("#list-search", "")
    page.click("#list-search-btn")

    # Filter by category, then add the second model to it through the modal.
    category_row(page, "新闻播报").get_by_role("button", name="筛选").click()
    expect(page.locator("#model-rows tr")).to_have_count(1)
    expect(model_row(page, "xiaoyun")).to_be_visible()
    page.select_option("#list-category", "")
    model_row(page, "xss").get_by_role("button", name="设置分类").click()
    page.locator("#modal .checks label", has_text="新闻播报").locator("input").check()
    page.click("#modal-ok")
    expect(category_row(page, "新闻播报").locator('td[data-label="音模数"]')).to_have_text("2")
    expect(model_row(page, "xss").locator(".chip")).to_have_text("新闻播报")

    # Edit, and play the reference clip.
    model_row(page, "xiaoyun").get_by_role("button", name="编辑").click()
    page.locator("#modal-body input").nth(1).fill("欢迎使用语音合成服务。")
    page.click("#modal-ok")
    expect(model_row(page, "xiaoyun")).to_contain_text("欢迎使用语音合成服务。")
    clip = model_row(page, "xiaoyun").locator("audio")
    clip.evaluate("a => a.play()")
    page.wait_for_function("a => a.currentTime > 0 || a.ended", arg=clip.element_handle())
    assert abs(clip.evaluate("a => a.duration") - 5.0) < 0.05
    page.locator("#area-categories").screenshot(path=str(artifacts / "categories.png"))
    page.locator("#area-create").screenshot(path=str(artifacts / "create-model.png"))
    page.locator("#area-models").screenshot(path=str(artifacts / "models.png"))

    # The picker searches the server: a model that is not on the list's current page.
    expect(model_row(page, "filler0")).to_have_count(0)
    page.fill("#pick-search", "填充音模 0")
    page.locator('#pick-list li[data-id="filler0"]').click()
    expect(page.locator("#pick-chosen")).to_contain_text("填充音模 0")
    page.fill("#s-text", "第一行文字。\nSecond line.")
    page.select_option("#s-lang", "zh")
    page.select_option("#s-cut", "cut5")
    page.fill("#s-topk", "15")
    page.fill("#s-topp", "0.8")
    page.fill("#s-temp", "0.9")
    page.fill("#s-speed", "1.25")
    page.click("#synth-now")
    expect(page.locator("#synth-msg")).to_contain_text("合成失败：模型权重缺失")
    page.locator("#area-synth").screenshot(path=str(artifacts / "synthesis.png"))

    # Tasks: a fresh id per submission; each ends in error with the clear message.
    ids = []
    for _ in range(2):
        page.click("#synth-task")
        page.wait_for_function("seen => { const m = /任务已提交：(\\S+)/.exec(document.getElementById('synth-msg').textContent);"
                               " return m && !seen.includes(m[1]); }", arg=ids)
        ids.append(re.search(r"任务已提交：(\S+)", page.locator("#synth-msg").inner_text()).group(1))
    assert ids[0] != ids[1]
    for task_id in ids:
        row = page.locator(f'#task-rows tr[data-id="{task_id}"]')
        expect(row.locator(".status")).to_have_text("失败", timeout=20000)
        expect(row.locator(".reason")).to_contain_text("合成失败：模型权重缺失")
    user = page.input_value("#user-id")
    sent = httpx.get(f"{real.url}/voice-tasks", params={"user_id": user, "ids": ids[0]}).json()["data"]["data"][0]
    assert (sent["model_id"], sent["text"], sent["text_language"], sent["how_to_cut"]) == \
        ("filler0", "第一行文字。\nSecond line.", "zh", "cut5")
    assert (sent["top_k"], sent["top_p"], sent["temperature"], sent["speed"]) == (15, 0.8, 0.9, 1.25)
    page.locator("#area-tasks").screenshot(path=str(artifacts / "tasks-no-weights.png"))
    page.screenshot(path=str(artifacts / "page-no-weights.png"), full_page=True)

    page.locator(f'#task-rows tr[data-id="{ids[0]}"]').get_by_role("button", name="删除").click()
    expect(page.locator(f'#task-rows tr[data-id="{ids[0]}"]')).to_have_count(0)
    assert httpx.get(f"{real.url}/voice-tasks/{ids[0]}", params={"user_id": user}).status_code == 404

    # Rename, then delete the category (the confirmation names the models it holds).
    category_row(page, "新闻播报").get_by_role("button", name="重命名").click()
    page.locator("#modal-body input").first.fill("新闻")
    page.click("#modal-ok")
    expect(category_row(page, "新闻")).to_have_count(1)
    expect(model_row(page, "xiaoyun").locator(".chip")).to_have_text("新闻")
    category_row(page, "新闻").get_by_role("button", name="删除").click()
    expect(page.locator("#category-rows")).to_contain_text("还没有分类")
    expect(model_row(page, "xiaoyun").locator(".chip")).to_have_count(0)
    assert ("confirm", "确认删除分类「新闻」？其中的 2 个音模将不再属于该分类（音模本身不会删除）。") in dialogs

    # Delete a voice model.
    model_row(page, "xss").get_by_role("button", name="删除").click()
    expect(model_row(page, "xss")).to_have_count(0)
    assert [d for d in dialogs if d[0] == "alert"] == []  # the XSS name never ran


def test_phone_sized_screen(servers, open_page, artifacts):
    page, _ = open_page(servers["real"].url + "/index", viewport={"width": 390, "height": 844},
                        is_mobile=True, has_touch=True)
    expect(page.locator("#health")).to_contain_text("权重缺失")
    expect(page.locator("#model-rows tr").first).to_be_visible()
    # One column, nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "phone.png"), full_page=True)
