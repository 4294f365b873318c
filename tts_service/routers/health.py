"""GET /healthz: is the process up, which weights are there, which device, which version."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .. import deps
from ..engine import SpeechEngine
from ..health import HealthProbes

router = APIRouter(tags=["其他"])


@router.get("/healthz", summary="健康检查",
            description="不需要 API key。返回服务状态、权重是否存在/已加载、设备与版本（此接口不使用信封）。"
                        "某个依赖不可用时（如任务队列的 Redis），status 为 degraded，原因见对应条目的 ok/error。")
def healthz(request: Request, engine: SpeechEngine = Depends(deps.engine),
            probes: HealthProbes = Depends(deps.health)) -> dict:
    report = {"status": "ok", "index_url": str(request.base_url).rstrip("/") + "/index"}
    report.update(engine.status())
    parts, healthy = probes.report()
    report.update(parts)
    if not healthy:
        report["status"] = "degraded"  # up, but a part it needs is not (the reason is in that part)
    return report
