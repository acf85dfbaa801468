"""The page's look: CSS for the HTML that ui/render.py builds, and the Gradio theme (system fonts
only: the app is offline, so no web fonts)."""

from __future__ import annotations

from typing import Any

FONTS = ("Inter", "ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif")
MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")

CSS = """
.gradio-container { width: 100% !important; max-width: 1440px !important;
  margin: 0 auto !important; }
#banner:has(.prose:empty) { display: none; }
#app-header .html-container, #banner .html-container, #chat .html-container,
#status .html-container, #sources .html-container, #info .html-container { padding: 0; }
#app-header { padding: 6px 2px 2px; }
#app-top { align-items: center; }
#ready { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; }
#ready .html-container { padding: 0; }
.readiness { display: inline-flex; align-items: center; gap: 8px; padding: 6px 14px;
  border-radius: 999px; font-size: .88rem; font-weight: 600; white-space: nowrap;
  border: 1px solid; max-width: 46vw; overflow: hidden; text-overflow: ellipsis; }
.readiness.busy { background: #eff6ff; border-color: #bfdbfe; color: #1e3a8a; }
.readiness.ready { background: #ecfdf5; border-color: #a7f3d0; color: #065f46; }
.readiness.error { background: #fef2f2; border-color: #fecaca; color: #991b1b; white-space: normal; }
.readiness .dot { width: 9px; height: 9px; border-radius: 50%; background: currentColor; flex: none; }
#app-header h1 { font-size: 1.5rem; font-weight: 700; margin: 0; letter-spacing: -0.01em; }
#app-header p { margin: 4px 0 0; color: var(--body-text-color-subdued); font-size: .93rem; }

.banner { display: flex; flex-direction: column; gap: 2px; padding: 10px 14px;
  border-radius: 10px; border: 1px solid; margin: 4px 0; font-size: .92rem; }
.banner.error { background: #fef2f2; border-color: #fecaca; color: #7f1d1d; }
.banner.warning { background: #fffbeb; border-color: #fde68a; color: #78350f; }
.banner.info { background: #eff6ff; border-color: #bfdbfe; color: #1e3a8a; }

#chat { min-height: 120px; }
.chat { display: flex; flex-direction: column; gap: 20px; padding: 4px 2px; }
.chat.empty .welcome { border: 1px dashed var(--border-color-primary); border-radius: 14px;
  padding: 36px 28px; text-align: center; color: var(--body-text-color-subdued); }
.welcome h3 { margin: 0 0 8px; color: var(--body-text-color); font-size: 1.1rem; }
.welcome p { margin: 4px auto; max-width: 560px; }
.welcome .example { font-style: italic; margin-top: 12px; }
.turn { display: flex; flex-direction: column; gap: 10px; }
.msg { display: flex; }
.msg.user { justify-content: flex-end; }
.msg.user .bubble { background: var(--color-accent-soft); border-radius: 16px 16px 4px 16px;
  padding: 10px 15px; max-width: 85%; white-space: pre-wrap; word-break: break-word; }
.msg.bot .bubble { background: var(--background-fill-primary); width: 100%;
  border: 1px solid var(--border-color-primary); border-radius: 16px 16px 16px 4px;
  padding: 14px 18px; line-height: 1.65; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.answer { word-break: break-word; }
.cites { white-space: nowrap; font-size: .75em; vertical-align: 2px; margin-left: 2px;
  color: var(--body-text-color-subdued); }
.cites .br { font-size: 0; }
a.cite { display: inline-block; min-width: 1.45em; padding: 0 .35em; margin: 0 1px;
  border-radius: 6px; text-align: center; line-height: 1.5; font-weight: 650;
  text-decoration: none; color: var(--color-accent); background: var(--color-accent-soft); }
.cite-bad { padding: 0 .3em; text-decoration: line-through; }
a.cite:hover { background: var(--color-accent); color: #fff; }
.sent.flagged, .legend .flagged { text-decoration: underline dotted #d97706 2px;
  text-underline-offset: 4px; }
.legend { font-size: .8rem; color: var(--body-text-color-subdued); margin-top: 10px; }
.meta { font-size: .78rem; color: var(--body-text-color-subdued); margin-top: 10px;
  padding-top: 8px; border-top: 1px solid var(--border-color-primary); }
.error-box { background: #fef2f2; color: #991b1b; border: 1px solid #fecaca;
  border-radius: 8px; padding: 8px 12px; margin-top: 6px; font-size: .9rem; }
.note { font-size: .85rem; color: var(--body-text-color-subdued); margin-top: 6px; }
.note.stopped { color: #b45309; }
.answer.abstained p { margin: 0; font-style: italic; }
.dots i { display: inline-block; width: 7px; height: 7px; margin-right: 5px; border-radius: 50%;
  background: var(--body-text-color-subdued); animation: rag-blink 1.2s infinite ease-in-out; }
.dots i:nth-child(2) { animation-delay: .2s; } .dots i:nth-child(3) { animation-delay: .4s; }
@keyframes rag-blink { 0%, 80%, 100% { opacity: .2; } 40% { opacity: 1; } }

#status { min-height: 26px; }
.status { display: flex; align-items: center; gap: 8px; font-size: .86rem; padding: 2px 4px;
  color: var(--body-text-color-subdued); }
.status.error { color: #b91c1c; } .status.done { color: #047857; }
.spinner { width: 12px; height: 12px; border: 2px solid currentColor; flex: none;
  border-right-color: transparent; border-radius: 50%; animation: rag-spin .8s linear infinite; }
@keyframes rag-spin { to { transform: rotate(360deg); } }
#ask-row { align-items: stretch; gap: 10px; }
#question textarea { font-size: .98rem; min-height: 3.1em; }
/* Gradio's own textarea rule removes the outline on focus: ours must win. */
#question textarea:focus, #question textarea:focus-visible {
  outline: 3px solid var(--color-accent) !important; outline-offset: 2px; border-radius: 6px; }
button:focus-visible, a:focus-visible, .act:focus-visible { outline: 3px solid var(--color-accent);
  outline-offset: 2px; }
#ask-buttons { gap: 6px; }
#stop-btn:disabled, #regen-btn:disabled { opacity: .45; cursor: not-allowed; }
#edit-hint { font-size: .85rem; color: #92400e; background: #fffbeb; border: 1px solid #fde68a;
  border-radius: 8px; padding: 6px 10px; margin-bottom: 6px; }
#edit-hint[hidden] { display: none; }
#toolbar { gap: 8px; align-items: center; }
#toolbar > * { flex: 0 0 auto !important; min-width: 0 !important; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 10px; }
.act { font: inherit; font-size: .78rem; padding: 2px 10px; border-radius: 999px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); text-decoration: none; }
.act:hover { border-color: var(--color-accent); color: var(--color-accent); }
.act.to-sources, .drawer-close { display: none; }
.welcome .example-q { font-size: .95rem; font-style: italic; padding: 4px 12px; }

#sources-col { position: sticky; top: 10px; align-self: flex-start;
  max-height: calc(100vh - 20px); overflow-y: auto; padding-right: 2px; }
.panel-head { display: flex; align-items: center; gap: 8px; font-weight: 650;
  font-size: .98rem; margin: 2px 0 10px; }
.panel-head .count { background: var(--color-accent-soft); color: var(--color-accent);
  border-radius: 999px; padding: 0 9px; font-size: .8rem; }
.sources .placeholder { color: var(--body-text-color-subdued); font-size: .9rem;
  border: 1px dashed var(--border-color-primary); border-radius: 12px; padding: 18px; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 12px;
  padding: 12px 14px; margin-bottom: 10px; background: var(--background-fill-primary);
  scroll-margin-top: 12px; transition: box-shadow .25s, border-color .25s; }
.src-card.cited { border-left: 3px solid var(--color-accent); }
.src-card:target { border-color: var(--color-accent);
  box-shadow: 0 0 0 3px var(--color-accent-soft); }
.src-head { display: flex; gap: 10px; align-items: flex-start; }
.src-n { flex: none; width: 24px; height: 24px; border-radius: 7px; display: flex;
  align-items: center; justify-content: center; font-size: .8rem; font-weight: 700;
  background: var(--color-accent); color: #fff; }
.src-title { font-weight: 650; line-height: 1.35; word-break: break-word; }
.src-badge { margin-left: auto; flex: none; font-size: .68rem; text-transform: uppercase;
  letter-spacing: .05em; color: var(--color-accent); border: 1px solid var(--color-accent);
  border-radius: 999px; padding: 0 7px; }
.src-meta { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 2px 10px;
  font-size: .75rem; color: var(--body-text-color-subdued); margin: 6px 0 6px 34px; }
.src-files { word-break: break-word; }
.src-biblio { font-size: .78rem; color: var(--body-text-color-subdued); margin: 4px 0 0 34px;
  display: flex; flex-wrap: wrap; gap: 4px 10px; }
.src-link { color: var(--color-accent); }
.src-rel { display: inline-flex; align-items: center; gap: 6px; cursor: help; }
.rel-bar { display: inline-flex; gap: 2px; }
.rel-bar i { width: 10px; height: 6px; border-radius: 2px; background: var(--border-color-primary); }
.rel-strong .rel-bar i { background: #059669; }
.rel-moderate .rel-bar i:nth-child(-n+2) { background: #d97706; }
.rel-weak .rel-bar i:first-child { background: #9ca3af; }
.src-back { display: inline-block; font-size: .76rem; margin: 6px 0 0 34px;
  color: var(--body-text-color-subdued); }
details.closest > summary { cursor: pointer; }
details.closest .none { font-weight: 400; font-size: .82rem; color: #b45309; }
.src-passage { font-size: .86rem; line-height: 1.55; margin: 0 0 0 34px; }
.src-passage mark { background: #fde68a; color: inherit; border-radius: 3px; padding: 0 1px; }
.src-passage mark.support { background: #e0e7ff; padding: 1px 2px; scroll-margin-top: 40px; }
.src-passage mark.support:target, .src-passage .ev:target { background: #fde68a;
  outline: 2px solid #f59e0b; }
.evidence-answer { border-left: 3px solid var(--color-accent-soft); padding: 2px 0 2px 10px;
  margin-bottom: 10px; font-size: .92rem; }
.ev-label { font-size: .72rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); margin: 8px 0 2px; }
.evidence-answer ul, ul.ev-list { margin: 2px 0 0; padding-left: 18px; }
details.earlier { margin-top: 16px; }
details.earlier summary { cursor: pointer; font-size: .85rem; margin-bottom: 8px;
  color: var(--body-text-color-subdued); }
.pg { font-size: .72rem; color: var(--body-text-color-subdued); margin-right: 3px; }
.library { max-height: 360px; overflow: auto; border: 1px solid var(--border-color-primary);
  border-radius: 10px; }
.library table { width: 100%; border-collapse: collapse; font-size: .84rem; }
.library caption { text-align: left; padding: 6px 10px; font-weight: 600; }
.library th, .library td { text-align: left; padding: 4px 10px; vertical-align: top;
  border-top: 1px solid var(--border-color-primary); }
.uploads ul { list-style: none; padding: 0; margin: 6px 0; }
.upload { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 6px 10px;
  margin-bottom: 6px; font-size: .88rem; }
.upload ul { list-style: disc; padding-left: 18px; margin: 2px 0; }
.up-head { display: flex; gap: 10px; align-items: baseline; font-weight: 600; }
.up-status { font-weight: 500; border-radius: 999px; padding: 0 8px; font-size: .8rem; }
.up-added { background: #dcfce7; color: #14532d; }
.up-merged, .up-unchanged { background: #e0f2fe; color: #0c4a6e; }
.up-rejected, .up-failed { background: #fee2e2; color: #7f1d1d; }
.up-problems { color: #7f1d1d; }
.up-now { color: var(--body-text-color-subdued); }
.info { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px;
  font-size: .85rem; margin: 4px 0; }
.info dt { color: var(--body-text-color-subdued); } .info dd { margin: 0; word-break: break-all; }
footer { opacity: .6; }

/* Phone (390 px and the like): one column, the question box pinned at the bottom, the sources
   a drawer that a citation tap (its card becomes :target) or the Sources button opens. */
@media (max-width: 760px) {
  .gradio-container { padding: 0 8px 150px !important; }
  #app-top { flex-wrap: nowrap !important; }
  #app-header p { display: none; }
  #app-header h1 { font-size: 1.2rem; }
  .readiness { max-width: 60vw; font-size: .8rem; padding: 4px 10px; }
  #ask-row { position: fixed; left: 0; right: 0; bottom: 0; z-index: 50; margin: 0 !important;
    padding: 8px 8px calc(8px + env(safe-area-inset-bottom)); gap: 6px;
    background: var(--background-fill-primary); border-top: 1px solid var(--border-color-primary);
    flex-wrap: nowrap !important; }
  #ask-row #question { min-width: 0 !important; }
  #ask-buttons { min-width: 76px !important; flex: 0 0 76px !important; }
  #edit-hint { position: fixed; left: 8px; right: 8px; bottom: 96px; z-index: 51; }
  #sources-col { display: none; position: fixed !important; inset: 0; z-index: 1000;
    height: 100dvh !important; max-height: 100dvh !important; margin: 0;
    padding: 12px 12px 40px; overflow-y: auto;
    background: var(--background-fill-primary); }
  #sources-col:target, #sources-col:has(.src-card:target) { display: block; }
  .act.to-sources { display: inline-block; }
  .drawer-close { display: inline-block; position: sticky; top: 0; z-index: 2; margin-bottom: 8px;
    padding: 6px 12px; border-radius: 999px; background: var(--color-accent); color: #fff;
    text-decoration: none; font-weight: 600; }
  .src-back { font-size: .9rem; padding: 6px 0; }
  .msg.user .bubble { max-width: 92%; }
  .msg.bot .bubble { padding: 12px 12px; }
}
"""


def theme() -> Any:
    import gradio as gr

    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", font=FONTS, font_mono=MONO
    )
