// The reference clip's duration, checked in the browser before upload (the server checks again).
import { CLIP_MAX, CLIP_MIN } from './vocab.js';
import { $, say } from './dom.js';

async function clipSeconds(file) {
  try {
    const context = new OfflineAudioContext(1, 1, 44100);
    const buffer = await context.decodeAudioData(await file.arrayBuffer());
    return buffer.duration;
  } catch (err) {
    return new Promise((resolve) => {  // formats WebAudio cannot decode: ask an <audio> element
      const audio = new Audio(), url = URL.createObjectURL(file);
      const done = (value) => { URL.revokeObjectURL(url); resolve(value); };
      audio.preload = 'metadata';
      audio.onloadedmetadata = () => done(Number.isFinite(audio.duration) ? audio.duration : null);
      audio.onerror = () => done(null);
      audio.src = url;
    });
  }
}

// Shows the duration next to the file input; resolves to an error message, or '' when the clip may go.
export async function checkClip(input, info) {
  const file = input.files[0];
  if (!file) { say(info, '需 3~10 秒', 'info'); return ''; }
  say(info, '正在读取时长…', 'info');
  const seconds = await clipSeconds(file);
  if (seconds === null) { say(info, '浏览器无法读取时长，将由服务器检查（需 3~10 秒）', 'info'); return ''; }
  const text = `时长 ${seconds.toFixed(2)} 秒`;
  if (seconds < CLIP_MIN || seconds > CLIP_MAX) { const msg = `${text}：参考音频需在 3~10 秒范围内`; say(info, msg, 'err'); return msg; }
  say(info, `${text} ✓`, 'ok');
  return '';
}

export function previewAvatar(input, img) {
  const file = input.files[0];
  img.hidden = !file;
  if (file) img.src = URL.createObjectURL(file);
}
