"""GET /healthz: is the process up, which weights are there, which device, which version."""
from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["其他"])


@router.get("/healthz", summary="健康检查",
            description="不需要 API key。返回服务状态、权重是否存在/已加载、设备与版本（此接口不使用信封）。"
                        "某个依赖不可用时（如任务队列的 Redis），status 为 degraded，原因见对应条目的 ok/error。")
def healthz(request: Request) -> dict:
    state = request.app.state
    report = {"status": "ok", "index_url": str(request.base_url).rstrip("/") + "/index"}
    report.update(state.engine.status())
    for name, probe in state.health_extras.items():
        try:
            report[name] = probe()
        except Exception as exc:  # a broken probe must not take the health check down
            report[name] = {"error": str(exc)}
        if isinstance(report[name], dict) and report[name].get("ok") is False:
            report["status"] = "degraded"  # up, but a part it needs is not (the reason is in that part)
    return report
