// The server's vocabularies and the page's constants (API_MS.md §1.6; the server's tables live in GPT_SoVITS/text).

export const LANGUAGES = [['all_zh', '中文'], ['en', '英文'], ['all_ja', '日文'], ['zh', '中英混合'], ['ja', '日英混合'], ['auto', '多语种混合']];
export const CUTS = [['cut0', '不切'], ['cut1', '凑四句一切'], ['cut2', '凑50字一切'], ['cut3', '按中文句号。切'], ['cut4', '按英文句号.切'], ['cut5', '按标点符号切']];
export const STATUS = { wait: '排队中', run: '合成中', done: '已完成', error: '失败' };
export const REASONS = { failed: '合成失败', cancelled: '已取消', interrupted: '服务多次中断' };
export const CLIP_MIN = 3, CLIP_MAX = 10;  // seconds, the server's reference-clip rule
export const TASK_POLL_MS = 2000, HEALTH_POLL_MS = 5000;
export const KEY_STORE = 'tts_api_key', USER_STORE = 'tts_user_id';

export function languageLabel(code) { const pair = LANGUAGES.find(([c]) => c === code); return pair ? pair[1] : code || '-'; }
