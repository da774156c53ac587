/**
 * "Search Code by Meaning": a QuickPick that asks the server as you type. Each keystroke cancels the request
 * in flight (the server stops working on a query nobody will read) and a new one goes out after a short
 * pause; moving through the results previews each range, Enter opens it with the range selected.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { type SearchResultItem, searchRequest } from '../../server/src/protocol/lspExt';

/** Typing faster than this does not send a request per keystroke. */
export const DEBOUNCE_MS = 150;
const RESULTS = 30;
const TITLE = 'Semcode: Search Code by Meaning';

export interface ResultPick extends vscode.QuickPickItem {
  result?: SearchResultItem;
}

const KIND_ICONS: Record<string, string> = {
  function: 'symbol-function',
  method: 'symbol-method',
  class: 'symbol-class',
  interface: 'symbol-interface',
  type: 'symbol-struct',
  enum: 'symbol-enum',
  module: 'symbol-namespace',
};

export function toPick(r: SearchResultItem): ResultPick {
  return {
    label: `$(${KIND_ICONS[r.kind] ?? 'symbol-file'}) ${r.symbol ?? r.path.slice(r.path.lastIndexOf('/') + 1)}`,
    description: `${r.path}:${r.startLine}  ·  ${r.score.toFixed(3)}`,
    detail: r.snippet,
    // The results are already ranked by meaning: VS Code's own filter on the typed text must not hide them.
    // (It still floats items whose name contains the typed text to the top; the stable API cannot turn that off.)
    alwaysShow: true,
    result: r,
  };
}

/** The result's lines, clamped to the document as it is now (it may have changed since it was indexed). */
function rangeIn(doc: vscode.TextDocument, r: SearchResultItem): vscode.Range {
  const last = doc.lineCount - 1;
  const start = Math.min(Math.max(r.startLine - 1, 0), last);
  const end = Math.min(Math.max(r.endLine - 1, start), last);
  return new vscode.Range(start, 0, end, doc.lineAt(end).range.end.character);
}

async function reveal(r: SearchResultItem, options: { preview: boolean; preserveFocus: boolean }): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.uri));
  const range = rangeIn(doc, r);
  const editor = await vscode.window.showTextDocument(doc, options);
  // The range selected with the cursor at its first line (showTextDocument's `selection` would put it at the
  // last), so the editor shows where the symbol starts.
  editor.selection = new vscode.Selection(range.end, range.start);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

export class SearchPalette {
  constructor(
    private readonly client: LanguageClient,
    /** a note shown in the placeholder, e.g. that the index is still being built */
    private readonly note: () => string | undefined,
  ) {}

  show(initialQuery?: string): void {
    const qp = vscode.window.createQuickPick<ResultPick>();
    qp.title = TITLE;
    const note = this.note();
    qp.placeholder = `Describe the code you are looking for${note ? ` (${note})` : ''}`;
    qp.matchOnDescription = false;
    qp.matchOnDetail = false;

    const original = vscode.window.activeTextEditor;
    const restore = original && { doc: original.document, selection: original.selection, column: original.viewColumn };
    let accepted = false;
    let timer: NodeJS.Timeout | undefined;
    let inFlight: vscode.CancellationTokenSource | undefined;

    const cancelInFlight = (): void => {
      inFlight?.cancel();
      inFlight?.dispose();
      inFlight = undefined;
    };

    const search = async (query: string): Promise<void> => {
      cancelInFlight();
      if (!query.trim()) {
        qp.items = [];
        qp.busy = false;
        return;
      }
      const cts = new vscode.CancellationTokenSource();
      inFlight = cts;
      qp.busy = true;
      try {
        const res = await this.client.sendRequest(searchRequest, { query, k: RESULTS }, cts.token);
        if (cts.token.isCancellationRequested) return;
        // No items with a message (a query with no words) is an answer, said as one: not an error, not "no match".
        const empty = res.message ?? 'Nothing indexed matches this description';
        qp.items = res.items.length ? res.items.map(toPick) : [{ label: `$(info) ${empty}`, alwaysShow: true }];
        qp.title = res.indexing ? `${TITLE} (indexing: results cover what is indexed so far)` : TITLE;
      } catch (err) {
        if (cts.token.isCancellationRequested) return;
        // Honest failure: the server's message, in the palette where the user is looking.
        qp.items = [{ label: '$(error) Search failed', detail: err instanceof Error ? err.message : String(err), alwaysShow: true }];
      } finally {
        if (inFlight === cts) qp.busy = false;
      }
    };

    qp.onDidChangeValue((value) => {
      clearTimeout(timer);
      cancelInFlight(); // results for an older query are stale the moment the text changes
      timer = setTimeout(() => void search(value), DEBOUNCE_MS);
    });
    qp.onDidChangeActive((items) => {
      const r = items[0]?.result;
      if (r) reveal(r, { preview: true, preserveFocus: true }).catch(() => {}); // a preview that fails is not worth a popup
    });
    qp.onDidAccept(() => {
      const r = (qp.selectedItems[0] ?? qp.activeItems[0])?.result;
      if (!r) return;
      accepted = true;
      qp.hide();
      reveal(r, { preview: false, preserveFocus: false }).catch((err: unknown) => {
        void vscode.window.showErrorMessage(`Semcode: cannot open ${r.path}: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    qp.onDidHide(() => {
      clearTimeout(timer);
      cancelInFlight();
      qp.dispose();
      // Escape puts the editor back where it was before the previews moved it.
      if (!accepted && restore) {
        void vscode.window.showTextDocument(restore.doc, { viewColumn: restore.column, selection: restore.selection }).then(undefined, () => {});
      }
    });

    qp.show();
    if (initialQuery) {
      qp.value = initialQuery;
      void search(initialQuery);
    }
  }
}
