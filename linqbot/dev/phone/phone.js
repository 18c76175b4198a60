// The phone simulator: you hold the phone as one simulated person and talk to the bot through the emulator.
// State comes from the emulator's change stream (/_emulator/ws); actions go to its admin API (/_emulator/inbound).

const TAPBACKS = { love: "❤️", like: "👍", dislike: "👎", laugh: "😂", emphasize: "‼️", question: "❓" };
const SCREEN_EMOJI = { confetti: "🎉", balloons: "🎈", love: "❤️", fireworks: "🎆", celebration: "✨", lasers: "💫",
  echo: "🔁", spotlight: "🔦", shooting_star: "🌠" };
const MAX_LOG = 500;

const state = {
  line: "",
  people: [],
  me: "",
  chats: new Map(),      // chat id -> chat view
  messages: new Map(),   // message id -> message view, in creation order
  typing: new Map(),     // chat id -> Set of handles typing
  current: null,         // {chatId} for an existing chat, or {draft: [other members]} before the first message
  meTyping: false,
  tapbackFor: null,      // message id the tapback bar is open for
  logCount: 0,
};

const $ = (id) => document.getElementById(id);

// ---- talking to the emulator ------------------------------------------------------------------------------

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    const message = data?.error?.message || response.statusText;
    setStatus(`emulator: ${message}`, false);
    throw new Error(message);
  }
  return data;
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/_emulator/ws`);
  ws.onopen = () => setStatus(`live · bot line ${state.line}`, true);
  ws.onmessage = (event) => apply(JSON.parse(event.data));
  ws.onclose = () => {
    setStatus("disconnected — retrying…", false);
    setTimeout(connect, 1000);
  };
}

function apply(change) {
  const { type, data } = change;
  if (type === "hello") {
    state.chats.clear();
    state.messages.clear();
    state.typing.clear();
    data.chats.forEach(addChat);
    data.messages.forEach((m) => state.messages.set(m.id, m));
  } else if (type === "chat.created") {
    addChat(data);
  } else if (type === "message.created" || type === "message.status") {
    const isNew = !state.messages.has(data.id);
    state.messages.set(data.id, data);
    if (isNew) {
      clearTyping(data.chat_id, data.from);
      if (data.effect && isShown(data.chat_id)) playEffect(data);
    }
  } else if (type === "typing") {
    const typists = state.typing.get(data.chat_id) || new Set();
    data.typing ? typists.add(data.handle) : typists.delete(data.handle);
    state.typing.set(data.chat_id, typists);
  } else if (type === "reaction") {
    refreshChat(data.chat_id);
    return;
  } else if (type === "webhook.delivery") {
    logDelivery(data);
    return;
  } else if (type === "reset") {
    state.chats.clear();
    state.messages.clear();
    state.typing.clear();
    state.current = null;
  } else {
    return;
  }
  render();
}

async function refreshChat(chatId) {
  const { messages } = await api(`/_emulator/messages?chat_id=${encodeURIComponent(chatId)}`);
  messages.forEach((m) => state.messages.set(m.id, m));
  render();
}

function addChat(chat) {
  state.chats.set(chat.id, chat);
  for (const handle of chat.handles) addPerson(handle);
}

function addPerson(handle) {
  if (handle && !state.people.includes(handle)) state.people.push(handle);
}

function clearTyping(chatId, handle) {
  state.typing.get(chatId)?.delete(handle);
}

// ---- what the person does ---------------------------------------------------------------------------------

async function send(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  const imageUrl = $("image-url").value.trim();
  if (!text && !imageUrl) return;
  const body = { from: state.me };
  if (imageUrl) {
    body.parts = [...(text ? [{ type: "text", value: text }] : []), { type: "media", url: imageUrl }];
  } else {
    body.text = text;
  }
  if (state.current?.chatId) body.chat_id = state.current.chatId;
  else if (state.current?.draft?.length) body.group = state.current.draft;
  const result = await api("/_emulator/inbound", body);
  $("text").value = "";
  $("image-url").value = "";
  $("image-url").hidden = true;
  state.meTyping = false;
  if (result.chat_id) state.current = { chatId: result.chat_id };
  render();
}

async function typed() {
  const typing = $("text").value.length > 0;
  const chatId = state.current?.chatId;
  if (!chatId || typing === state.meTyping) return;
  state.meTyping = typing;
  await api("/_emulator/inbound", { from: state.me, chat_id: chatId, typing });
}

async function react(messageId, type) {
  const message = state.messages.get(messageId);
  const mine = message.reactions.some((r) => r.handle === state.me && r.type === type);
  hideTapbacks();
  await api("/_emulator/inbound", {
    from: state.me, reaction: { message_id: messageId, type, operation: mine ? "remove" : "add" },
  });
}

function showTapbacks(messageId) {
  const bar = $("tapback-bar");
  if (state.tapbackFor === messageId) return hideTapbacks();
  state.tapbackFor = messageId;
  const message = state.messages.get(messageId);
  bar.replaceChildren(...Object.entries(TAPBACKS).map(([type, emoji]) => {
    const button = el("button", { type: "button", title: type, "data-tapback": type }, emoji);
    button.setAttribute("aria-pressed", String(message.reactions.some((r) => r.handle === state.me && r.type === type)));
    button.onclick = () => react(messageId, type);
    return button;
  }));
  bar.hidden = false;
}

function hideTapbacks() {
  state.tapbackFor = null;
  $("tapback-bar").hidden = true;
}

function holdPhone(handle) {
  state.me = handle;
  state.current = null;
  state.meTyping = false;
  hideTapbacks();
  clearGroupPicks();
  render();
}

function clearGroupPicks() {
  document.querySelectorAll("#group-members input:checked").forEach((box) => { box.checked = false; });
}

function startGroup() {
  const others = [...document.querySelectorAll("#group-members input:checked")].map((box) => box.value);
  if (!others.length) return setStatus("pick at least one other person for the group", false);
  const members = new Set([state.me, ...others]);
  const existing = chatsOf(state.me).find((c) => c.is_group && sameMembers(c.handles, members));
  state.current = existing ? { chatId: existing.id } : { draft: others };
  $("new-group").open = false;
  clearGroupPicks();
  render();
  $("text").focus();
}

// ---- rendering --------------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// The lists are kept, not rebuilt: rebuilding them on every change replaced the button under the mouse between
// press and release (the click was lost while messages arrived) and unticked the group boxes being ticked.
function syncList(list, entries, render) {
  const kept = new Map([...list.children].map((node) => [node.dataset.key, node]));
  const nodes = entries.map((entry) => {
    const node = render(entry, kept.get(entry.key));
    node.dataset.key = entry.key;
    return node;
  });
  if (nodes.length !== list.children.length || nodes.some((node, i) => node !== list.children[i])) {
    list.replaceChildren(...nodes);
  }
}

function listButton({ label, sub, current }, kept, onclick) {
  const item = kept || el("li", {}, el("button", { type: "button" }, el("span", { class: "label" })));
  const button = item.firstChild;
  button.onclick = onclick;
  button.setAttribute("aria-current", String(current));
  setText(button.querySelector(".label"), label);
  const subline = button.querySelector(".sub");
  if (sub === undefined) subline?.remove();
  else setText(subline || button.appendChild(el("span", { class: "sub" })), sub);
  return item;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function chatsOf(handle) {
  return [...state.chats.values()].filter((c) => c.handles.includes(handle));
}

function sameMembers(handles, members) {
  return handles.length === members.size && handles.every((h) => members.has(h));
}

function currentChatId() {
  if (state.current?.chatId) return state.current.chatId;
  if (state.current?.draft) return null;
  const dm = chatsOf(state.me).find((c) => !c.is_group);
  return dm ? dm.id : null;
}

function isShown(chatId) {
  return chatId === currentChatId();
}

function render() {
  renderPeople();
  renderChats();
  renderHeader();
  renderThread();
}

function renderPeople() {
  syncList($("people"), state.people.map((handle) => ({ key: handle, label: handle, current: handle === state.me })),
    (entry, kept) => listButton(entry, kept, () => holdPhone(entry.key)));
  syncList($("group-members"), state.people.filter((h) => h !== state.me).map((handle) => ({ key: handle })),
    (entry, kept) => kept || el("label", {}, el("input", { type: "checkbox", value: entry.key }), ` ${entry.key}`));
}

function chatLabel(chat) {
  if (!chat.is_group) return "Bot";
  return chat.display_name || `Group: Bot, ${chat.handles.filter((h) => h !== state.me).join(", ")}`;
}

function renderChats() {
  const shown = currentChatId();
  const entries = chatsOf(state.me).map((chat) => {
    const last = [...state.messages.values()].filter((m) => m.chat_id === chat.id).at(-1);
    return { key: chat.id, label: chatLabel(chat), sub: last ? preview(last) : "", current: chat.id === shown };
  });
  if (!chatsOf(state.me).some((c) => !c.is_group)) {
    entries.unshift({ key: "", label: "Bot", sub: "new conversation", current: !state.current });
  }
  syncList($("chats"), entries, (entry, kept) => listButton(entry, kept, () => {
    state.current = entry.key ? { chatId: entry.key } : null;
    hideTapbacks();
    render();
  }));
}

function renderHeader() {
  const chatId = currentChatId();
  const chat = chatId ? state.chats.get(chatId) : null;
  const draft = state.current?.draft;
  $("chat-title").textContent = chat ? chatLabel(chat) : draft ? `Group: Bot, ${draft.join(", ")}` : "Bot";
  $("chat-subtitle").textContent = chat
    ? `${chat.service || "iMessage"} · ${chat.is_group ? `${chat.handles.length + 1} people` : state.line}`
    : draft ? "new group — send a message to create it" : state.line;
}

function renderThread() {
  const chatId = currentChatId();
  const thread = $("thread");
  const messages = chatId ? [...state.messages.values()].filter((m) => m.chat_id === chatId) : [];
  const chat = chatId ? state.chats.get(chatId) : null;
  const lastMine = [...messages].reverse().find((m) => m.from === state.me);
  const receiptOn = lastMine && messages.at(-1) === lastMine ? lastMine : null;
  const entries = messages.map((m, i) => {
    const sender = chat?.is_group && m.from !== state.me && messages[i - 1]?.from !== m.from;
    const receipt = m === receiptOn ? (m.status === "read" ? "Read" : "Delivered") : "";
    return { key: m.id, message: m, sender, receipt, look: JSON.stringify([state.me, m, sender, receipt]) };
  });
  if (chatId && state.typing.get(chatId)?.has(state.line)) entries.push({ key: "typing", look: "" });
  if (!entries.length) entries.push({ key: `empty ${state.me}`, look: "" });
  const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
  syncList(thread, entries, (entry, kept) => {
    if (kept?.dataset.look === entry.look) return kept;  // unchanged: the same node, so a tap on it is not lost
    const row = entry.message ? messageRow(entry) : entry.key === "typing" ? typingRow() : emptyRow();
    row.dataset.look = entry.look;
    return row;
  });
  if (atBottom || lastMine === messages.at(-1)) thread.scrollTop = thread.scrollHeight;
}

function typingRow() {
  return el("div", { class: "row from-them typing", id: "typing-indicator", "aria-label": "Bot is typing" },
    el("div", { class: "bubble" }, el("span", { class: "dot" }), el("span", { class: "dot" }), el("span", { class: "dot" })));
}

function emptyRow() {
  return el("p", { class: "empty" }, `You are ${state.me}.`, el("br"), "Say hi to the bot 👋");
}

function messageRow({ message, sender, receipt }) {
  const mine = message.from === state.me;
  const fromBot = message.from === state.line;
  const classes = ["row", mine ? "from-me" : "from-them", fromBot ? "from-bot" : "from-person"];
  if (message.effect?.type === "bubble") classes.push(`fx-${message.effect.name}`);
  if (message.reactions.length) classes.push("has-tapbacks");
  const row = el("div", { class: classes.join(" "), "data-message-id": message.id });
  if (sender) row.append(el("div", { class: "sender" }, fromBot ? "Bot" : message.from));
  const bubble = el("div", { class: message.status === "failed" ? "bubble failed" : "bubble" }, ...partsOf(message));
  if (!mine) bubble.onclick = () => showTapbacks(message.id);
  if (message.reactions.length) {
    bubble.append(el("div", { class: "tapbacks" }, ...message.reactions.map((r) => el("span", {
      class: `tapback ${r.handle === state.line ? "by-bot" : r.handle === state.me ? "by-me" : ""}`,
      title: `${r.handle === state.line ? "Bot" : r.handle} · ${r.type}`,
      "data-reaction": r.type,
    }, TAPBACKS[r.type] || r.custom_emoji || "★"))));
  }
  row.append(bubble);
  if (message.effect) {
    row.append(el("div", { class: "effect-note", "data-effect": message.effect.name }, `sent with ${message.effect.name} ✨`));
  }
  if (message.status === "failed") row.append(el("div", { class: "receipt" }, `Not delivered (${message.failed_code})`));
  if (receipt) row.append(el("div", { class: "receipt", "data-testid": "receipt" }, receipt));
  return row;
}

function partsOf(message) {
  const nodes = [];
  for (const part of message.parts || []) {
    if (part.type === "text") nodes.push(el("div", { class: "text" }, part.value));
    else if (part.type === "media" && isImage(part)) nodes.push(el("img", { src: part.url, alt: part.filename || "image" }));
    else if (part.type === "media") nodes.push(el("a", { href: part.url, target: "_blank" }, `📎 ${part.filename || part.url}`));
    else if (part.type === "link" || part.type === "app_clip") nodes.push(el("a", { href: part.value, target: "_blank" }, part.value));
    else nodes.push(el("div", { class: "text" }, part.fallback_text || `[${part.type}]`));
  }
  return nodes.length ? nodes : [el("div", { class: "text" }, "[empty]")];
}

function isImage(part) {
  return (part.mime_type || "").startsWith("image/") || /\.(png|jpe?g|gif|webp|svg|heic)(\?|$)/i.test(part.url);
}

function preview(message) {
  const who = message.from === state.me ? "You: " : message.from === state.line ? "" : `${message.from}: `;
  return who + (message.text || (message.parts || []).map((p) => `[${p.type}]`).join(" "));
}

function playEffect(message) {
  if (message.effect.type !== "screen") return;
  const layer = $("screen-effect");
  const emoji = SCREEN_EMOJI[message.effect.name] || "✨";
  layer.dataset.effect = message.effect.name;
  layer.replaceChildren(...Array.from({ length: 28 }, (_, i) => {
    const drop = el("span", {}, emoji);
    drop.style.left = `${(i * 37) % 100}%`;
    drop.style.animationDelay = `${(i % 7) * 0.12}s`;
    return drop;
  }));
  setTimeout(() => { if (layer.dataset.effect === message.effect.name) layer.replaceChildren(); }, 3200);
}

function logDelivery(entry) {
  state.logCount += 1;
  $("log-count").textContent = String(state.logCount);
  const ok = entry.status !== null && entry.status < 300;
  const outcome = entry.status !== null ? String(entry.status) : "ERR";
  const detail = entry.error ? ` — ${entry.error}` : entry.will_retry ? " — will retry" : "";
  const time = (entry.at || "").slice(11, 19);
  const item = el("li", { class: "entry", "data-event-type": entry.event_type, title: entry.event_id },
    el("span", { class: "time" }, time),
    el("span", { class: ok ? "ok" : "bad" }, outcome),
    el("span", {}, `${entry.event_type}${entry.attempt > 1 ? ` (try ${entry.attempt})` : ""}${detail}`));
  const log = $("log");
  log.prepend(item);
  while (log.children.length > MAX_LOG) log.lastChild.remove();
}

function setStatus(text, live) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("live", live);
}

// ---- start ------------------------------------------------------------------------------------------------

async function start() {
  const session = await api("/phone/session");
  state.line = session.line;
  session.people.forEach(addPerson);
  state.me = new URLSearchParams(location.search).get("as") || session.people[0];
  addPerson(state.me);
  $("composer").addEventListener("submit", send);
  $("text").addEventListener("input", typed);
  $("attach").onclick = () => { $("image-url").hidden = !$("image-url").hidden; $("image-url").focus(); };
  $("start-group").onclick = startGroup;
  $("add-person").addEventListener("submit", (event) => {
    event.preventDefault();
    addPerson($("new-person").value.trim());
    $("new-person").value = "";
    render();
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hideTapbacks(); });
  render();
  connect();
}

start();
