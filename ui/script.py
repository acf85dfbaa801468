"""The page script (Gradio runs it once the page loads): the buttons ui/render.py draws in the
chat HTML (copy, edit, regenerate, the example question) and Esc to leave editing. It only
reads our own elements and writes the question box and the hidden edit-turn box, through the
input events Gradio listens to; it never builds HTML from text."""

PAGE_JS = r"""
() => {
  const $ = (sel) => document.querySelector(sel);
  const box = () => $('#question textarea');
  const editBox = () => $('#edit-turn textarea, #edit-turn input');
  function setValue(el, value) {
    if (!el) return;
    const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement : HTMLInputElement;
    Object.getOwnPropertyDescriptor(proto.prototype, 'value').set.call(el, value);
    el.dispatchEvent(new Event('input', {bubbles: true}));
  }
  function hint(text) {
    let el = $('#edit-hint');
    if (!el) {
      el = document.createElement('div');
      el.id = 'edit-hint';
      el.setAttribute('role', 'status');
      const row = $('#ask-row');
      if (!row) return;
      row.parentNode.insertBefore(el, row);
    }
    el.textContent = text;
    el.hidden = !text;
  }
  function stopEditing() { setValue(editBox(), ''); hint(''); }
  async function copy(text, button) {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    const label = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = label; }, 1500);
  }
  document.addEventListener('click', (event) => {
    const button = event.target.closest('[data-act]');
    if (!button || button.tagName !== 'BUTTON') return;
    const turn = button.closest('.turn');
    const act = button.dataset.act;
    if (act === 'example') {
      setValue(box(), button.textContent.replace(/^[“"]|[”"]$/g, ''));
      setTimeout(() => $('#ask-btn')?.click(), 50);
    } else if (act === 'copy' && turn) {
      copy(turn.querySelector('.msg.bot .answer')?.innerText || '', button);
    } else if (act === 'edit' && turn) {
      setValue(box(), turn.querySelector('.msg.user .bubble')?.innerText || '');
      setValue(editBox(), button.dataset.turn || '');
      hint('Editing question ' + button.dataset.turn + ': Enter asks it again and replaces ' +
           'the answers after it. Esc cancels.');
      box()?.focus();
    } else if (act === 'regen') {
      $('#regen-btn')?.click();
    }
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && editBox()?.value) stopEditing();
  }, true);
  // A citation's card may sit in a drawer that only became visible with the new hash (the
  // phone layout) or in an earlier turn's folded list: bring it into view once laid out.
  window.addEventListener('hashchange', () => {
    const card = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!card || !card.classList.contains('src-card')) return;
    const folded = card.closest('details');
    if (folded) folded.open = true;
    requestAnimationFrame(() => card.scrollIntoView({block: 'start'}));
  });
  // Jumping to an anchor may scroll the page's container sideways (the folded side panel
  // sticks out of it on a phone): the page never scrolls sideways.
  document.addEventListener('scroll', (event) => {
    const el = event.target;
    if (el instanceof Element && el.classList.contains('gradio-container') && el.scrollLeft) {
      el.scrollLeft = 0;
    }
  }, true);
  // On a phone the saved chats start folded away (the page comes first); the panel's own
  // toggle button opens them.
  if (window.matchMedia('(max-width: 760px)').matches) {
    let tries = 0;
    const fold = setInterval(() => {
      const panel = $('#history-panel');
      if (panel?.classList.contains('open')) panel.querySelector('.toggle-button')?.click();
      if ((panel && !panel.classList.contains('open')) || ++tries > 50) clearInterval(fold);
    }, 100);
  }
  document.addEventListener('click', (event) => {
    if (event.target.closest('#ask-btn, #new-btn')) setTimeout(() => hint(''), 0);
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && event.target.closest('#question')) {
      setTimeout(() => hint(''), 0);
    }
  }, true);
}
"""
