// Message formatting: a small Markdown subset turned into DOM nodes, never into an HTML string,
// so nothing a sender types can become markup. Bold, italics, strike-through, inline code, code
// blocks, lists, quotes, links (http, https and mailto only, opened with rel=noopener), bare URLs,
// emoji shortcodes and @mentions.

const EMOJI = {
  smile: "😄", grin: "😁", joy: "😂", wink: "😉", blush: "😊", heart: "❤️", thumbsup: "👍", "+1": "👍",
  thumbsdown: "👎", "-1": "👎", clap: "👏", tada: "🎉", fire: "🔥", rocket: "🚀", eyes: "👀", thinking: "🤔",
  pray: "🙏", wave: "👋", ok_hand: "👌", muscle: "💪", star: "⭐", sparkles: "✨", check: "✅",
  white_check_mark: "✅", x: "❌", warning: "⚠️", bulb: "💡", lock: "🔒", key: "🔑", coffee: "☕",
  sob: "😭", cry: "😢", sweat_smile: "😅", sunglasses: "😎", shrug: "🤷", 100: "💯", calendar: "📅",
  memo: "📝", bug: "🐛", shield: "🛡️", hourglass: "⏳", point_up: "☝️", raised_hands: "🙌",
};

export function emoji(name) {
  return EMOJI[name];
}

export const EMOJI_NAMES = Object.keys(EMOJI);

const INLINE = new RegExp(
  [
    "(`[^`\\n]+`)", // 1 code
    "(\\*\\*[^*\\n]+?\\*\\*)", // 2 bold
    "(~~[^~\\n]+?~~)", // 3 strike
    "(\\*[^*\\s][^*\\n]*?\\*|(?<![\\p{L}\\p{N}])_[^_\\s][^_\\n]*?_(?![\\p{L}\\p{N}]))", // 4 italics
    "(\\[[^\\]\\n]+\\]\\((?:https?://|mailto:)[^)\\s]+\\))", // 5 link
    "(https?://[^\\s<>\"]*[^\\s<>\".,;:!?)\\]'])", // 6 bare URL
    "(:[a-z0-9_+-]+:)", // 7 emoji
    "((?<![\\p{L}\\p{N}.])@[\\p{L}\\p{N}._-]*[\\p{L}\\p{N}])", // 8 mention
  ].join("|"),
  "gu",
);

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  a.textContent = text;
  return a;
}

/// Inline formatting of one line. `mention(handle)` says how a mention is drawn.
function inline(text, opts, out) {
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.append(text.slice(at, m.index));
    at = m.index + m[0].length;
    const [all, code, bold, strike, italic, md, url, emo, mention] = m;
    if (code) {
      out.append(Object.assign(document.createElement("code"), { textContent: code.slice(1, -1) }));
    } else if (bold || strike || italic) {
      const el = document.createElement(bold ? "strong" : strike ? "s" : "em");
      inline(all.slice(bold || strike ? 2 : 1, bold || strike ? -2 : -1), opts, el);
      out.append(el);
    } else if (md) {
      const close = md.indexOf("](");
      out.append(link(md.slice(close + 2, -1), md.slice(1, close)));
    } else if (url) {
      out.append(link(url, url));
    } else if (emo) {
      const e = EMOJI[emo.slice(1, -1)];
      out.append(e ? Object.assign(document.createElement("span"), { className: "emoji", textContent: e, title: emo }) : emo);
    } else if (mention) {
      const kind = opts.mention ? opts.mention(mention.slice(1)) : null;
      if (kind) {
        out.append(Object.assign(document.createElement("span"), { className: "mention" + (kind === "me" ? " me" : ""), textContent: mention }));
      } else {
        out.append(mention);
      }
    }
  }
  if (at < text.length) out.append(text.slice(at));
}

/// The message as a fragment of block elements.
export function render(text, opts = {}) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  let paragraph = null;
  const end = () => { paragraph = null; };
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      end();
      const body = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      const pre = document.createElement("pre");
      pre.append(Object.assign(document.createElement("code"), { textContent: body.join("\n") }));
      out.append(pre);
      continue;
    }
    const quote = /^>\s?(.*)$/.exec(line);
    if (quote) {
      end();
      const block = document.createElement("blockquote");
      const inner = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) inner.push(lines[i++].replace(/^>\s?/, ""));
      block.append(render(inner.join("\n"), opts));
      out.append(block);
      continue;
    }
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const number = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (bullet || number) {
      end();
      const list = document.createElement(bullet ? "ul" : "ol");
      const pattern = bullet ? /^\s*[-*]\s+(.*)$/ : /^\s*\d+[.)]\s+(.*)$/;
      let item;
      while (i < lines.length && (item = pattern.exec(lines[i]))) {
        const li = document.createElement("li");
        inline(item[1], opts, li);
        list.append(li);
        i++;
      }
      out.append(list);
      continue;
    }
    if (line.trim() === "") {
      end();
      i++;
      continue;
    }
    if (!paragraph) {
      paragraph = document.createElement("p");
      out.append(paragraph);
    } else {
      paragraph.append(document.createElement("br"));
    }
    inline(line, opts, paragraph);
    i++;
  }
  return out;
}

/// The mentions in a text: handles without the "@".
export function mentions(text) {
  return [...text.matchAll(/(?<![\p{L}\p{N}.])@([\p{L}\p{N}._-]*[\p{L}\p{N}])/gu)].map((m) => m[1].toLowerCase());
}
