"""Request bodies of the task endpoints. The synthesis fields are the shared ones of /synthesize."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..schemas import SynthesisRequest

# The seed's keys first, in its order (§8.1), then the fields the rebuild added.
SEED_REQUEST_KEYS = ("model_id", "text", "text_language", "how_to_cut", "prompt_text", "prompt_language",
                     "ref_wav_path", "top_k", "top_p", "temperature")


class TaskSubmitRequest(SynthesisRequest):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "user_id": "u1001", "task_id": "T20250101A", "model_id": "xiaoyun",
        "text": "你好，欢迎使用语音合成服务。", "text_language": "all_zh", "how_to_cut": "cut1"}]})

    user_id: str | None = Field(None, description="owner of the task (required): only this user sees it")
    task_id: str | None = Field(None, description="letters, digits, _ and -, at most 64; empty: the server "
                                                  "makes one. An id that exists already is refused (code 2)")

    def synthesis_fields(self) -> dict:
        """What the task stores and later synthesises, in the seed's key order."""
        fields = SynthesisRequest.model_validate(self.model_dump()).model_dump()
        ordered = {key: fields.pop(key) for key in SEED_REQUEST_KEYS}
        return {**ordered, **fields}


class TaskQueryRequest(BaseModel):
    """POST /voice-tasks/query: ids mode when task_ids is not empty, else page mode."""

    user_id: str | None = Field(None, description="任务所属用户（必填）", examples=["tester"])
    task_ids: list[str] = Field(default_factory=list, description="按任务ID查询；为空时分页查询",
                                examples=[["T1", "T2"]])
    page: int = Field(1, description="页码，从 1 开始（分页模式）")
    page_size: int = Field(10, description="每页条数 1..100（分页模式）")
