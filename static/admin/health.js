// The status badge and the what-to-do banner, both from GET /healthz.
import { $, h } from './dom.js';

const HEALTH = {
  ready: ['ok', '权重已加载'], idle: ['warn', '权重未加载（首次合成时加载）'], loading: ['warn', '权重加载中…'],
  missing: ['bad', '权重缺失'], failed: ['bad', '权重加载失败'],
};

export async function refreshHealth() {
  let report = null;
  try { const r = await fetch('/healthz', { cache: 'no-store' }); if (r.ok) report = await r.json(); } catch (err) { /* offline */ }
  const badge = $('health');
  if (!report) { badge.className = 'badge bad'; $('health-text').textContent = '服务离线'; showBanner(null); return; }
  const [kind, label] = HEALTH[report.state] || ['warn', `状态：${report.state}`];
  const device = report.device ? `${report.device.target}:${report.device.id}` : '';
  const tasks = report.tasks || {};
  const busy = (tasks.running || []).length;
  badge.className = `badge ${kind}`;
  $('health-text').textContent = [label, device, `队列 ${tasks.queued ?? 0}${busy ? `，运行中 ${busy}` : ''}`].filter(Boolean).join(' · ');
  showBanner(report);
}

function showBanner(report) {
  const banner = $('banner');
  if (!report) {
    banner.className = 'banner';
    banner.replaceChildren(h('strong', { text: '无法连接服务' }), '请确认 api_ms.py 正在运行，然后刷新本页。');
  } else if (report.state === 'missing') {
    const missing = Object.entries(report.weights || {}).filter(([, w]) => w && w.present === false);
    banner.className = 'banner';
    banner.replaceChildren(
      h('strong', { text: '未找到模型权重：现在无法合成（可以管理音模和分类）' }),
      h('ul', {}, missing.map(([name, w]) => h('li', {}, h('code', { text: w.path }),
        ` — 用 --${name.replace(/_/g, '-')} 或环境变量 ${name} 指定${name === 'sv_path' ? '（仅 v2Pro/v2ProPlus 需要）' : ''}`))),
      '请把 GPT-SoVITS 预训练模型下载到 GPT_SoVITS/pretrained_models/（见 README），或用上面的参数指向你的文件，然后重启服务。');
  } else if (report.state === 'failed') {
    banner.className = 'banner';
    banner.replaceChildren(h('strong', { text: '模型权重加载失败' }), h('div', { class: 'mono', text: report.error || '' }),
      '请检查权重文件是否完整、版本是否匹配，或通过 POST /set_model 换一组权重。');
  } else { banner.hidden = true; return; }
  banner.hidden = false;
}
