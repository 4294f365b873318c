// The page's shared state: one object, read and written by every area.

export const state = {
  categories: [], models: { page: 1, total: 0 }, tasks: { page: 1, total: 0, ids: [] },
  taskRows: new Map(),  // task_id -> <tr>, updated in place
  picked: null,         // the voice model chosen for synthesis
  finetune: null,       // the voice open in the 微调 area: { model, taskId, timer }
};
