"""Mandarin tone sandhi on jieba words, as the reference (PaddleSpeech's ToneSandhi) applies it.

Finals are pypinyin FINALS_TONE3 strings ("ang3", "i5"); a change rewrites the tone digit.
Order per word: 不, then 一, then neutral tones, then third-tone sandhi. Before that, words are merged
(不/一 with their neighbours, reduplications, runs of third tones, 儿) so the rules see whole words.
"""
from __future__ import annotations

import jieba_fast
from pypinyin import Style, lazy_pinyin

# Words whose last syllable is neutral (tone 5) in standard Mandarin.
MUST_NEUTRAL = set("""
麻烦 麻利 鸳鸯 高粱 骨头 骆驼 马虎 首饰 馒头 馄饨 风筝 难为 队伍 阔气 闺女 门道 锄头 铺盖 铃铛 铁匠 钥匙 里脊 里头 部分
那么 道士 造化 迷糊 连累 这么 这个 运气 过去 软和 转悠 踏实 跳蚤 跟头 趔趄 财主 豆腐 讲究 记性 记号 认识 规矩 见识 裁缝
补丁 衣裳 衣服 衙门 街坊 行李 行当 蛤蟆 蘑菇 薄荷 葫芦 葡萄 萝卜 荸荠 苗条 苗头 苍蝇 芝麻 舒服 舒坦 舌头 自在 膏药 脾气
脑袋 脊梁 能耐 胳膊 胭脂 胡萝 胡琴 胡同 聪明 耽误 耽搁 耷拉 耳朵 老爷 老实 老婆 老头 老太 翻腾 罗嗦 罐头 编辑 结实 红火
累赘 糨糊 糊涂 精神 粮食 簸箕 篱笆 算计 算盘 答应 笤帚 笑语 笑话 窟窿 窝囊 窗户 稳当 稀罕 称呼 秧歌 秀气 秀才 福气 祖宗
砚台 码头 石榴 石头 石匠 知识 眼睛 眯缝 眨巴 眉毛 相声 盘算 白净 痢疾 痛快 疟疾 疙瘩 疏忽 畜生 生意 甘蔗 琵琶 琢磨 琉璃
玻璃 玫瑰 玄乎 狐狸 状元 特务 牲口 牙碜 牌楼 爽快 爱人 热闹 烧饼 烟筒 烂糊 点心 炊帚 灯笼 火候 漂亮 滑溜 溜达 温和 清楚
消息 浪头 活泼 比方 正经 欺负 模糊 槟榔 棺材 棒槌 棉花 核桃 栅栏 柴火 架势 枕头 枇杷 机灵 本事 木头 木匠 朋友 月饼 月亮
暖和 明白 时候 新鲜 故事 收拾 收成 提防 挖苦 挑剔 指甲 指头 拾掇 拳头 拨弄 招牌 招呼 抬举 护士 折腾 扫帚 打量 打算 打点
打扮 打听 打发 扎实 扁担 戒指 懒得 意识 意思 情形 悟性 怪物 思量 怎么 念头 念叨 快活 忙活 志气 心思 得罪 张罗 弟兄 开通
应酬 庄稼 干事 帮手 帐篷 希罕 师父 师傅 巴结 巴掌 差事 工夫 岁数 屁股 尾巴 少爷 小气 小伙 将就 对头 对付 寡妇 家伙 客气
实在 官司 学问 学生 字号 嫁妆 媳妇 媒人 婆家 娘家 委屈 姑娘 姐夫 妯娌 妥当 妖精 奴才 女婿 头发 太阳 大爷 大方 大意 大夫
多少 多么 外甥 壮实 地道 地方 在乎 困难 嘴巴 嘱咐 嘟囔 嘀咕 喜欢 喇嘛 喇叭 商量 唾沫 哑巴 哈欠 哆嗦 咳嗽 和尚 告诉 告示
含糊 吓唬 后头 名字 名堂 合同 吆喝 叫唤 口袋 厚道 厉害 千斤 包袱 包涵 匀称 勤快 动静 动弹 功夫 力气 前头 刺猬 刺激 别扭
利落 利索 利害 分析 出息 凑合 凉快 冷战 冤枉 冒失 养活 关系 先生 兄弟 便宜 使唤 佩服 作坊 体面 位置 似的 伙计 休息 什么
人家 亲戚 亲家 交情 云彩 事情 买卖 主意 丫头 丧气 两口 东西 东家 世故 不由 不在 下水 下巴 上头 上司 丈夫 丈人 一辈 那个
菩萨 父亲 母亲 咕噜 邋遢 费用 冤家 甜头 介绍 荒唐 大人 泥鳅 幸福 熟悉 计划 扑腾 蜡烛 姥爷 照顾 喉咙 吉他 弄堂 蚂蚱 凤凰
拖沓 寒碜 糟蹋 倒腾 报复 逻辑 盘缠 喽啰 牢骚 咖喱 扫把 惦记
""".split())
# Words that look like they take a neutral tone (reduplication, -子, -地) but do not.
MUST_NOT_NEUTRAL = set("""
男子 女子 分子 原子 量子 莲子 石子 瓜子 电子 人人 虎虎 幺幺 干嘛 学子 哈哈 数数 袅袅 局地 以下 娃哈哈 花花草草 留得 耕地
想想 熙熙 攘攘 卵子 死死 冉冉 恳恳 佼佼 吵吵 打打 考考 整整 莘莘 落地 算子 家家户户 青青
""".split())
_PUNCTUATION = "：，；。？！“”‘’':,;.?!"
_NEUTRAL_PARTICLES = "吧呢哈啊呐噻嘛吖嗨呐哦哒额滴哩哟喽啰耶喔诶"
_MEASURE_GE_AFTER = "几有两半多各整每做是"


def _tone(final: str, tone: str) -> str:
    return final[:-1] + tone


def _all_third(finals: list[str]) -> bool:
    return all(f[-1] == "3" for f in finals)


def _finals(word: str) -> list[str]:
    return lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3)


def split_word(word: str) -> list[str]:
    """Two parts of a word: its shortest search sub-word and the rest, in word order."""
    shortest = sorted(jieba_fast.cut_for_search(word), key=len)[0]
    if word.find(shortest) == 0:
        return [shortest, word[len(shortest):]]
    return [word[:-len(shortest)], shortest]


def _is_neutral_word(word: str) -> bool:
    return word in MUST_NEUTRAL or word[-2:] in MUST_NEUTRAL


def _neutral_sandhi(word: str, pos: str, finals: list[str]) -> list[str]:
    for j in range(1, len(word)):  # reduplicated nouns, verbs, adjectives: 奶奶, 试试
        if word[j] == word[j - 1] and pos[0] in "nva" and word not in MUST_NOT_NEUTRAL:
            finals[j] = _tone(finals[j], "5")
    ge = word.find("个")
    last = word[-1]
    if last in _NEUTRAL_PARTICLES or last in "的地得":
        finals[-1] = _tone(finals[-1], "5")
    elif len(word) == 1 and word in "了着过" and pos in {"ul", "uz", "ug"}:
        finals[-1] = _tone(finals[-1], "5")
    elif len(word) > 1 and last in "们子" and pos in {"r", "n"} and word not in MUST_NOT_NEUTRAL:
        finals[-1] = _tone(finals[-1], "5")
    elif len(word) > 1 and last in "上下里" and pos in {"s", "l", "f"}:  # 桌上, 地下, 家里
        finals[-1] = _tone(finals[-1], "5")
    elif len(word) > 1 and last in "来去" and word[-2] in "上下进出回过起开":  # 上来, 下去
        finals[-1] = _tone(finals[-1], "5")
    elif (ge >= 1 and (word[ge - 1].isnumeric() or word[ge - 1] in _MEASURE_GE_AFTER)) or word == "个":
        finals[ge] = _tone(finals[ge], "5")
    elif _is_neutral_word(word):
        finals[-1] = _tone(finals[-1], "5")
    # The same lexical rule once more on each half of the word.
    parts = split_word(word)
    halves = [finals[:len(parts[0])], finals[len(parts[0]):]]
    for part, half in zip(parts, halves):
        if _is_neutral_word(part):
            half[-1] = _tone(half[-1], "5")
    return halves[0] + halves[1]


def _bu_sandhi(word: str, finals: list[str]) -> list[str]:
    if len(word) == 3 and word[1] == "不":  # 看不懂
        finals[1] = _tone(finals[1], "5")
        return finals
    for i, char in enumerate(word[:-1]):
        if char == "不" and finals[i + 1][-1] == "4":  # 不怕 -> bu2
            finals[i] = _tone(finals[i], "2")
    return finals


def _yi_sandhi(word: str, finals: list[str]) -> list[str]:
    if "一" in word and all(c.isnumeric() for c in word if c != "一"):
        return finals  # in a number: 一零零
    if len(word) == 3 and word[1] == "一" and word[0] == word[-1]:  # 看一看
        finals[1] = _tone(finals[1], "5")
    elif word.startswith("第一"):  # ordinal
        finals[1] = _tone(finals[1], "1")
    else:
        for i, char in enumerate(word[:-1]):
            if char != "一":
                continue
            if finals[i + 1][-1] == "4":  # 一段 -> yi2
                finals[i] = _tone(finals[i], "2")
            elif word[i + 1] not in _PUNCTUATION:  # 一天 -> yi4
                finals[i] = _tone(finals[i], "4")
    return finals


def _three_sandhi(word: str, finals: list[str]) -> list[str]:
    if len(word) == 2 and _all_third(finals):
        finals[0] = _tone(finals[0], "2")
    elif len(word) == 3:
        parts = split_word(word)
        if _all_third(finals):
            if len(parts[0]) == 2:  # 蒙古/包
                finals[0], finals[1] = _tone(finals[0], "2"), _tone(finals[1], "2")
            elif len(parts[0]) == 1:  # 纸/老虎
                finals[1] = _tone(finals[1], "2")
        else:
            halves = [finals[:len(parts[0])], finals[len(parts[0]):]]
            for i, half in enumerate(halves):
                if _all_third(half) and len(half) == 2:  # 所有/人
                    half[0] = _tone(half[0], "2")
                elif i == 1 and not _all_third(half) and half[0][-1] == "3" and halves[0][-1][-1] == "3":
                    halves[0][-1] = _tone(halves[0][-1], "2")  # 好/喜欢
            finals = halves[0] + halves[1]
    elif len(word) == 4:  # an idiom is two two-syllable words
        halves = [finals[:2], finals[2:]]
        for half in halves:
            if _all_third(half):
                half[0] = _tone(half[0], "2")
        finals = halves[0] + halves[1]
    return finals


def modified_tone(word: str, pos: str, finals: list[str]) -> list[str]:
    finals = _bu_sandhi(word, finals)
    finals = _yi_sandhi(word, finals)
    finals = _neutral_sandhi(word, pos, finals)
    return _three_sandhi(word, finals)


# ---- merging jieba words before the rules ---------------------------------------------------------

Seg = list[list[str]]  # [[word, pos], ...]


def _merge_bu(seg: Seg) -> Seg:
    merged, last = [], ""
    for word, pos in seg:
        if last == "不":
            word = last + word
        if word != "不":
            merged.append([word, pos])
        last = word
    if last == "不":
        merged.append(["不", "d"])
    return merged


def _merge_yi(seg: Seg) -> Seg:
    merged: Seg = []
    i = 0
    while i < len(seg):  # verb 一 verb -> one word: 听一听
        word, pos = seg[i]
        if 0 < i < len(seg) - 1 and word == "一":
            prev, nxt = merged[-1], seg[i + 1]
            if prev[0] == nxt[0] and prev[1] == "v" and nxt[1] == "v":
                merged[-1] = [prev[0] + "一" + nxt[0], prev[1]]
                i += 2
                continue
        merged.append([word, pos])
        i += 1
    glued: Seg = []
    for word, pos in merged:  # a lone 一 takes the next word
        if glued and glued[-1][0] == "一":
            glued[-1][0] += word
        else:
            glued.append([word, pos])
    return glued


def _merge_reduplication(seg: Seg) -> Seg:
    merged: Seg = []
    for word, pos in seg:
        if merged and word == merged[-1][0]:
            merged[-1][0] += word
        else:
            merged.append([word, pos])
    return merged


def _merge_third_tones(seg: Seg, joins) -> Seg:
    """Join a word to the previous one when `joins(prev_finals, finals)` and the result has <= 3
    syllables, unless the previous word was itself joined or is a reduplication (which needs its
    neutral tone)."""
    finals = [_finals(word) for word, _ in seg]
    merged: Seg = []
    joined = [False] * len(seg)
    for i, (word, pos) in enumerate(seg):
        prev = seg[i - 1][0] if i else ""
        if i and joins(finals[i - 1], finals[i]) and not joined[i - 1] \
                and not (len(prev) == 2 and prev[0] == prev[1]) and len(prev) + len(word) <= 3:
            merged[-1][0] += word
            joined[i] = True
        else:
            merged.append([word, pos])
    return merged


def _merge_er(seg: Seg) -> Seg:
    merged: Seg = []
    for i, (word, pos) in enumerate(seg):
        if i and word == "儿" and seg[i - 1][0] != "#":
            merged[-1][0] += word
        else:
            merged.append([word, pos])
    return merged


def _tolerant(step, seg: Seg) -> Seg:
    # The reference skips a merge step that raises (e.g. on a word pypinyin gives no syllable for).
    try:
        return step(seg)
    except Exception:  # noqa: BLE001 - same leniency as the reference
        return seg


def pre_merge_for_modify(seg: list[tuple[str, str]]) -> Seg:
    out = _merge_bu([list(p) for p in seg])
    out = _tolerant(_merge_yi, out)
    out = _merge_reduplication(out)
    out = _tolerant(lambda s: _merge_third_tones(s, lambda a, b: _all_third(a) and _all_third(b)), out)
    out = _tolerant(lambda s: _merge_third_tones(s, lambda a, b: a[-1][-1] == "3" and b[0][-1] == "3"), out)
    return _merge_er(out)
