import type { Workspace } from '../core/paths';
import type { ExampleRow } from '../data/datasets';
import { renderTemplate, type PromptTemplate } from '../prompts/templates';
import { requestKey, studyCompletePrompt, type SamplingParameters, type TeacherEndpoint, type TeacherRequest } from './request-key';
import { ResponseStore } from './response-store';
import type { QueryJob } from './scheduler';

/** Turns (template, rows) into teacher jobs: rendered prompts, request keys, and the store each answer goes to. */

export interface TeacherSettings {
  model: string;
  endpoint: TeacherEndpoint;
  parameters: SamplingParameters;
}

export class StoreRegistry {
  private readonly stores = new Map<string, ResponseStore>();

  constructor(private readonly workspace: Workspace) {}

  get(task: string, split: string, templateId: number): ResponseStore {
    const id = `${task}/${split}/${templateId}`;
    let store = this.stores.get(id);
    if (!store) {
      store = new ResponseStore(this.workspace, task, split, templateId);
      this.stores.set(id, store);
    }
    return store;
  }
}

export function buildQueryJobs(
  task: string,
  split: string,
  template: PromptTemplate,
  rows: readonly ExampleRow[],
  teacher: TeacherSettings,
  stores: StoreRegistry,
): QueryJob[] {
  const store = stores.get(task, split, template.id);
  return rows.map((row) => {
    const rendered = renderTemplate(template, row.promptValues);
    const request: TeacherRequest = {
      model: teacher.model,
      endpoint: teacher.endpoint,
      system: rendered.system,
      user: rendered.user,
      parameters: teacher.parameters,
    };
    return {
      request,
      key: requestKey(request),
      store,
      // What was sent: system and user joined by a newline for chat (the study's complete_prompt), by a space for the
      // completion endpoint (its prompt), so a stored line and its request key always describe the same request.
      row: { split, idx: row.index, templateId: template.id, promptValues: row.promptValues, completePrompt: studyCompletePrompt(request) },
    };
  });
}
