"""Tasks and direct synthesis in the admin page, on the task test server (the real service with a
stand-in engine of 4 slow segments, tests/support/task_server.py): progress by segment, play in the
page, download named after the task, cancel, delete, and live updates that never replace a playing
<audio>."""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from admin_page_helpers import add_model_by_api

pytestmark = [pytest.mark.browser, pytest.mark.server]

TEXT = "第一句。第二句。第三句。第四句。"


def task_row(page, task_id: str):
    return page.locator(f'#task-rows tr[data-id="{task_id}"]')


def submit(page, seen: list[str]) -> str:
    page.click("#synth-task")
    page.wait_for_function("seen => { const m = /任务已提交：(\\S+)/.exec(document.getElementById('synth-msg').textContent);"
                           " return m && !seen.includes(m[1]); }", arg=seen)
    task_id = re.search(r"任务已提交：(\S+)", page.locator("#synth-msg").inner_text()).group(1)
    seen.append(task_id)
    return task_id


def test_tasks_progress_play_download(servers, media, open_page, artifacts, tmp_path):
    fake = servers["fake"]
    for category_id, name in (("news", "新闻播报"), ("story", "故事")):
        httpx.post(f"{fake.url}/voice-categories", json={"category_id": category_id, "category_name": name})
    for model_id, name, categories in (("xiaoyun", "小云", ["news"]), ("laowang", "老王", ["news", "story"]),
                                       ("tongtong", "童童", ["story"])):
        add_model_by_api(fake.url, media, model_id, name, categories=categories)
    page, dialogs = open_page(fake.url + "/index", viewport={"width": 1440, "height": 1000})
    expect(page.locator("#health")).to_contain_text("权重已加载")
    expect(page.locator("#banner")).to_be_hidden()

    page.fill("#pick-search", "小云")
    page.locator('#pick-list li[data-id="xiaoyun"]').click()
    page.fill("#s-text", TEXT)

    # Synthesise now: the WAV plays in the page.
    page.click("#synth-now")
    expect(page.locator("#synth-msg")).to_have_text("合成完成", timeout=20000)
    page.wait_for_function("() => { const a = document.getElementById('synth-audio'); return a.duration > 0 && (a.currentTime > 0 || a.ended); }")

    # Record every value the first task's segment counter takes, to see the progress by segment.
    seen: list[str] = []
    first = submit(page, seen)
    task_row(page, first).locator('td[data-label="进度"] .muted').evaluate(
        "el => { window.counts = [el.textContent];"
        " new MutationObserver(() => window.counts.push(el.textContent)).observe(el, {childList: true, characterData: true, subtree: true}); }")
    row = task_row(page, first)
    expect(row.locator(".status")).to_have_text("已完成", timeout=20000)
    counts = page.evaluate("window.counts")
    assert any(re.fullmatch(r"[123]/4 段 · \d+%", c) for c in counts), counts
    assert counts[-1] == "4/4 段 · 100%"

    # Play the result and keep it playing while other tasks run and the list reloads.
    player = row.locator("audio")
    player.evaluate("a => { a.marker = 'first'; a.loop = true; return a.play(); }")
    page.wait_for_function("a => a.currentTime > 0", arg=player.element_handle())
    second = submit(page, seen)
    expect(task_row(page, second).locator(".status")).to_have_text("已完成", timeout=20000)
    page.click("#task-refresh")
    expect(page.locator("#task-rows tr")).to_have_count(2)
    assert player.evaluate("a => [a.marker, a.paused]") == ["first", False]
    page.locator("#area-tasks").screenshot(path=str(artifacts / "tasks.png"))
    page.locator("#area-synth").screenshot(path=str(artifacts / "synthesis-ready.png"))
    player.evaluate("a => a.pause()")

    # Download: named after the task, a real WAV.
    with page.expect_download() as download:
        row.locator("a.download").click()
    assert download.value.suggested_filename == f"{first}.wav"
    saved = tmp_path / "download.wav"
    download.value.save_as(saved)
    assert saved.read_bytes()[:4] == b"RIFF"

    # Cancel a running task: it stays listed as cancelled.
    third = submit(page, seen)
    expect(task_row(page, third).locator(".status")).to_have_text("合成中", timeout=10000)
    task_row(page, third).get_by_role("button", name="取消").click()
    expect(task_row(page, third).locator(".reason")).to_contain_text("已取消")
    page.evaluate("document.getElementById('toast').replaceChildren()")  # no passing message in the picture
    page.screenshot(path=str(artifacts / "page.png"), full_page=True)

    # Delete a finished task.
    row.get_by_role("button", name="删除").click()
    expect(task_row(page, first)).to_have_count(0)
    user = page.input_value("#user-id")
    assert httpx.get(f"{fake.url}/voice-tasks/{first}", params={"user_id": user}).status_code == 404
    assert [kind for kind, _ in dialogs] == ["confirm", "confirm"]
