// RagAgent chat page: streams answers over the /v1/ws/chat WebSocket.
// No inline script and no framework, so the page works under `script-src 'self'`.
"use strict";

const KEY_STORAGE = "ragagent.apiKey";
const CLOSE_REASONS = {
  1008: "Authentication failed: enter a valid API key above.",
  1009: "That message is too large for the server.",
};

const state = { socket: null, conversationId: null, current: null, pending: [] };

function $(id) {
  return document.getElementById(id);
}

function setStatus(text) {
  $("status").textContent = text;
}

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/v1/ws/chat`;
}

function subprotocols() {
  // Browsers cannot set an Authorization header on a WebSocket, so the key
  // travels as a subprotocol; the server answers with "ragagent", never the key.
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? ["ragagent", `bearer.${key}`] : ["ragagent"];
}

function connect() {
  const socket = new WebSocket(socketUrl(), subprotocols());
  socket.addEventListener("open", () => {
    setStatus("Connected.");
    state.pending.splice(0).forEach((frame) => socket.send(frame));
  });
  socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => onClose(event));
  state.socket = socket;
  return socket;
}

function send(frame) {
  const socket = state.socket;
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(frame);
    return;
  }
  state.pending.push(frame);
  if (!socket || socket.readyState !== WebSocket.CONNECTING) {
    connect();
  }
}

function onClose(event) {
  state.socket = null;
  const reason = CLOSE_REASONS[event.code];
  if (reason) {
    failCurrent(reason);
  } else if (state.current) {
    failCurrent("The connection closed before the answer was complete.");
  }
}

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = `message ${role}`;
  const body = document.createElement("div");
  body.className = "body";
  body.textContent = text;
  item.appendChild(body);
  $("messages").appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function onFrame(frame) {
  const current = state.current;
  if (frame.type === "token" && current) {
    current.querySelector(".body").textContent += frame.text;
  } else if (frame.type === "citations" && current) {
    state.conversationId = frame.conversation_id;
    current.appendChild(renderCitations(frame.citations));
  } else if (frame.type === "done" && current) {
    current.dataset.state = "done";
    finish(`Answered (${frame.usage.total_tokens} tokens).`);
  } else if (frame.type === "error") {
    failCurrent(`Error ${frame.status}: ${frame.detail}`);
  }
}

function renderCitations(citations) {
  const list = document.createElement("ol");
  list.className = "citations";
  for (const citation of citations) {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    // The location is the passage's section: "p. 3" of a PDF, a heading of a document.
    const where = citation.location ? `, ${citation.location}` : "";
    title.textContent = `[${citation.index}] ${citation.title || citation.external_id}${where}`;
    const snippet = document.createElement("span");
    snippet.textContent = ` ${citation.snippet}`;
    item.append(title, snippet);
    list.appendChild(item);
  }
  return list;
}

function failCurrent(text) {
  if (state.current) {
    state.current.classList.add("error");
    state.current.dataset.state = "error";
    state.current.querySelector(".body").textContent ||= text;
  }
  finish(text);
}

function finish(text) {
  state.current = null;
  $("send").disabled = false;
  setStatus(text);
}

function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || state.current) {
    return;
  }
  addMessage("user", question);
  state.current = addMessage("assistant", "");
  state.current.dataset.state = "streaming";
  $("question").value = "";
  $("send").disabled = true;
  setStatus("Thinking…");
  send(JSON.stringify({ message: question, conversation_id: state.conversationId }));
}

function useKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  } else {
    sessionStorage.removeItem(KEY_STORAGE);
  }
  $("api-key").value = "";
  if (state.socket) {
    state.socket.close(1000);
  }
  setStatus(key ? "Key saved for this tab." : "Key cleared.");
}

function newConversation() {
  state.conversationId = null;
  $("messages").replaceChildren();
  setStatus("New conversation.");
}

function onKeyDown(event) {
  if (event.key === "Enter" && !event.shiftKey) {
    ask(event);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("chat-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", onKeyDown);
  $("key-form").addEventListener("submit", useKey);
  $("new-conversation").addEventListener("click", newConversation);
});
