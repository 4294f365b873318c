"""Names (model_name, category_name) refuse bidi controls and invisible characters, on create and on
update, with code 3 naming the field (tts_service/storage/text.py has the rule); visible text of any
script stays allowed, and free text (description, prompt_text) only refuses what reorders the screen."""
from __future__ import annotations

import pytest
from service_helpers import assert_envelope, create_model, snapshot

# U+202E RIGHT-TO-LEFT OVERRIDE turns "小云txt.exe" into what reads as "小云exe.txt";
# U+200B ZERO WIDTH SPACE makes two names look identical.
HIDDEN = ["\u202e", "\u200b", "\u2066", "\u200f", "\u2060", "\ufeff", "\u200d", "\u3164", "\u2028", "\x85"]


def _refused(response, field: str) -> None:
    body = assert_envelope(response, 3, 400)
    assert field in body["message"], body


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_hidden_characters_in_names_are_refused_on_create(client, data_dir, clips, png, char):
    before = snapshot(data_dir)
    _refused(create_model(client, clips["5s"], png, model_name=f"小云{char}txt.exe"), "model_name")
    _refused(client.post("/voice-categories", json={"category_id": "c1", "category_name": f"新{char}闻"}),
             "category_name")
    assert snapshot(data_dir) == before


@pytest.mark.parametrize("char", ["\u202e", "\u200b"], ids=lambda c: f"U+{ord(c):04X}")
def test_hidden_characters_in_names_are_refused_on_update(client, data_dir, clips, png, char):
    assert_envelope(create_model(client, clips["5s"], png, model_id="m1"), 0, 200)
    assert_envelope(client.post("/voice-categories", json={"category_id": "c1", "category_name": "新闻"}), 0, 200)
    before = snapshot(data_dir)
    _refused(client.patch("/voice-models/m1", data={"model_name": f"小云{char}"}), "model_name")
    _refused(client.patch("/voice-categories/c1", json={"category_name": f"新{char}闻"}), "category_name")
    assert snapshot(data_dir) == before


def test_visible_names_are_kept_and_free_text_keeps_joiners_but_not_bidi_overrides(client, clips, png):
    """Names of any visible script are kept (emoji too, unless joined by U+200D); a description may hold
    a zero-width joiner (emoji sequences, Persian), never a bidi override."""
    names = ["小云", "Ελληνικά", "עברית", "العربية", "ｶﾀｶﾅ", "e\u0301te\u0301", "❤\ufe0f 😀👍🏽", "A B"]
    for number, name in enumerate(names):
        made = assert_envelope(client.post("/voice-categories", json={"category_id": f"n{number}",
                                                                    "category_name": name}), 0, 200)
        assert made["data"]["category_name"] == name
    made = assert_envelope(create_model(client, clips["5s"], png, model_name="小云 ❤\ufe0f"), 0, 200)
    assert made["data"]["model_name"] == "小云 ❤\ufe0f"
    family = "家庭 \U0001f468\u200d\U0001f469\u200d\U0001f467"
    _refused(client.post("/voice-categories", json={"category_id": "c0", "category_name": family}), "category_name")
    kept = client.post("/voice-categories",
                       json={"category_id": "c1", "category_name": "家庭", "description": family})
    assert assert_envelope(kept, 0, 200)["data"]["description"] == family
    _refused(client.post("/voice-categories", json={"category_id": "c2", "category_name": "x",
                                                    "description": "abc\u202edcba"}), "description")
    _refused(client.patch("/voice-categories/c1", json={"description": "\u2067x"}), "description")
