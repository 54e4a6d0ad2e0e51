"use strict";
// The gongji mock's dashboard: shows GET /gongji-admin/dashboard and switches faults with
// POST / DELETE /gongji-admin/faults (docs/reference/mock-dashboard.md). Text goes in
// with textContent only: the gateways' words are shown, never interpreted.

const ADMIN = "/gongji-admin/";
const PROTOCOLS = ["national", "wechatpay", "alipay"];
const CHANNELS = ["wechatpay", "alipay"];
// The switches: a fault kind, its label, the protocols it applies to, and its settings.
const SWITCHES = [
  ["timeout_before_commit", "超时，未处理 Timeout, nothing processed", PROTOCOLS],
  ["drop_after_commit", "已处理，应答丢失 Processed, answer lost", PROTOCOLS],
  ["error_5xx", "服务不可用 503 Unavailable", PROTOCOLS],
  // The national interface signs requests, not answers: no answer signature to spoil.
  ["bad_signature", "应答签名错误 Bad answer signature", CHANNELS],
  ["latency", "延迟 2 秒 Answer 2 s late", PROTOCOLS, { latency_ms: 2000 }],
  ["duplicate_callback", "回调重复 Callback sent twice", CHANNELS],
  ["out_of_order_callbacks", "回调乱序 Callbacks newest first", CHANNELS],
];
const VERDICTS = {
  answered: "应答 answered",
  declined: "拒绝 declined",
  failed: "失败 failed",
  no_answer: "无应答 no answer",
};

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined || text === "" ? "-" : String(text);
  if (className) td.className = className;
  return td;
}

function fill(tableId, items, render) {
  const table = $(tableId);
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!items.length) {
    const td = cell(body.insertRow(), "无 none", "muted");
    td.colSpan = table.tHead.rows[0].cells.length;
    return;
  }
  for (const item of items) render(body.insertRow(), item);
}

async function call(method, path, body) {
  const options = { method, cache: "no-store" };
  if (body !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const response = await fetch(ADMIN + path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.message || answer.error || `HTTP ${response.status}`);
  return answer;
}

// Two messages: the connection's (cleared by the next good read) and the last switch's.
function showError(error, where = "error") {
  $(where).textContent = error ? `出错 Error: ${error.message}` : "";
}

// Answers may arrive out of order (a poll and a switch at once): only the newest is shown.
let asked = 0;
let shown = 0;
async function refresh() {
  const mine = ++asked;
  try {
    const answer = await call("GET", "dashboard");
    if (mine < shown) return;
    shown = mine;
    show(answer);
    showError(null);
  } catch (error) {
    showError(new Error(`无法读取模拟网关 Cannot read the mock (${error.message})`));
  }
}

async function change(method, path, body) {
  try {
    await call(method, path, body);
    showError(null, "action-error");
  } catch (error) {
    showError(error, "action-error");
  }
  await refresh();
}

function switchOff(kind, target, code) {
  const query = new URLSearchParams({ kind, target, code });
  return change("DELETE", `faults?${query}`);
}

function show(d) {
  $("policy").textContent = d.policy;
  const check = $("check");
  const sound = d.violations.length === 0;
  check.textContent = sound ? "账本平衡 Ledger sound" : `账本异常 Ledger violations: ${d.violations.join("; ")}`;
  check.className = `badge ${sound ? "good" : "bad"}`;
  $("updated").textContent = `更新于 Updated ${new Date().toLocaleTimeString()}`;

  showFaults(d.faults);
  fill("people", d.people, (r, p) => {
    cell(r, p.name);
    cell(r, p.id, "mono");
    cell(r, p.psn_no, "mono");
    cell(r, p.insurance);
    cell(r, p.status);
    cell(r, p.region);
    cell(r, p.balance, "num");
  });
  fill("bindings", d.bindings, (r, b) => {
    cell(r, b.owner, "mono");
    cell(r, b.beneficiary, "mono");
    cell(r, b.relation);
    cell(r, b.status);
    cell(r, b.priority);
    cell(r, b.per_transaction_limit ?? "不限 none", "num");
  });
  $("ledger-total").textContent = `共 ${d.ledger.total} 笔 transactions`;
  fill("ledger", d.ledger.transactions, (r, t) => {
    cell(r, t.number);
    const kind = t.kind === "settle" ? "结算 settle" : "冲正 reversal";
    cell(r, t.reversed ? `${kind} (已冲正 reversed)` : kind, t.reversed ? "muted" : "");
    cell(r, t.settlement_id, "mono");
    cell(r, t.total, "num");
    cell(r, t.postings.map((p) => `${p.account} ${p.amount}`).join(" · "), "mono small");
  });
  $("requests-total").textContent = `共 ${d.requests.total} 次 requests`;
  fill("requests", d.requests.requests, (r, q) => {
    cell(r, q.number);
    cell(r, q.at.slice(11, 23), "mono");
    cell(r, q.target);
    cell(r, q.code, "mono");
    cell(r, q.status ?? "—");
    cell(r, VERDICTS[q.verdict] || q.verdict, `verdict ${q.verdict}`);
    cell(r, q.result, "mono");
    cell(r, q.faults.join(", "), q.faults.length ? "fault" : "");
    cell(r, q.message, "small");
  });
  showCallbacks(d.callbacks);
}

function showCallbacks(c) {
  const where = c.delivering ? `POST 至 to ${c.notify_url || "各交易的 notify_url / each trade's notify_url"}` : "不经 HTTP 投递 not POSTed";
  $("callbacks-summary").textContent =
    `已发出 Sent: 微信 WeChat ${c.collected.wechatpay} · 支付宝 Alipay ${c.collected.alipay} · ${where} · 待投递 pending ${c.pending}`;
  fill("deliveries", c.deliveries, (r, x) => {
    cell(r, x.number);
    cell(r, x.channel);
    cell(r, x.event);
    cell(r, x.url, "mono small");
    cell(r, x.status, `delivery ${x.status}`);
    cell(r, x.attempts.map((a) => a.error || `${a.status}${a.accepted ? " ✓" : " ✗"}`).join(", "));
  });
}

let switchesBuilt = false;
function buildSwitches(kinds, targets) {
  const body = $("switches").tBodies[0];
  for (const [kind, label, applies, settings] of SWITCHES) {
    if (!kinds.includes(kind)) continue;
    const row = body.insertRow();
    cell(row, label);
    for (const target of PROTOCOLS) {
      const td = row.insertCell();
      if (!applies.includes(target)) {
        td.textContent = "—";
        td.className = "muted";
        continue;
      }
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = `switch-${kind}-${target}`;
      box.dataset.kind = kind;
      box.dataset.target = target;
      box.setAttribute("aria-label", `${kind} @ ${target}`);
      box.addEventListener("change", () =>
        box.checked
          ? change("POST", "faults", { kind, target, ...(settings || {}) })
          : switchOff(kind, target, "*"),
      );
      td.append(box);
    }
  }
  for (const kind of kinds) {
    $("form-kind").add(new Option(kind, kind, false, kind === "timeout_before_commit"));
  }
  for (const target of targets) $("form-target").add(new Option(target, target, false, target === "national"));
  switchesBuilt = true;
}

function showFaults(f) {
  if (!switchesBuilt) buildSwitches(f.kinds, f.targets);
  const on = new Set(f.faults.filter((r) => r.code === "*").map((r) => `${r.kind}-${r.target}`));
  for (const box of $("switches").querySelectorAll("input[type=checkbox]")) {
    box.checked = on.has(`${box.dataset.kind}-${box.dataset.target}`);
  }
  fill("faults", f.faults, (r, rule) => {
    cell(r, rule.kind);
    cell(r, rule.target);
    cell(r, rule.code, "mono");
    cell(r, rule.percent, "num");
    const left = rule.left === 0 ? "0 用完 used up" : rule.left;
    cell(r, rule.times === null ? "不限 always" : left, "num");
    cell(r, rule.kind === "clock_skew" ? `${rule.skew_seconds} s` : rule.latency_ms ? `${rule.latency_ms} ms` : "");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "关闭 Off";
    button.addEventListener("click", () => switchOff(rule.kind, rule.target, rule.code));
    r.insertCell().append(button);
  });
  const injected = Object.entries(f.injected).map(([kind, n]) => `${kind} ${n}`);
  $("injected").textContent = injected.length ? injected.join(", ") : "无 none";
}

function number(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number.parseInt(text, 10);
}

function switchOnFromForm(event) {
  event.preventDefault();
  const rule = {
    kind: $("form-kind").value,
    target: $("form-target").value,
    code: $("form-code").value.trim() || "*",
    percent: number("form-percent") ?? 100,
    latency_ms: number("form-latency") ?? 0,
    skew_seconds: number("form-skew") ?? 0,
  };
  const times = number("form-times");
  if (times !== null) rule.times = times;
  change("POST", "faults", rule);
}

document.addEventListener("DOMContentLoaded", () => {
  $("refresh").addEventListener("click", refresh);
  $("all-off").addEventListener("click", () => change("DELETE", "faults"));
  $("fault-form").addEventListener("submit", switchOnFromForm);
  setInterval(() => {
    if ($("auto").checked) refresh();
  }, 2000);
  refresh();
});
