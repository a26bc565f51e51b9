// The API reference, drawn from /openapi.json with no external script.
"use strict";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return schemaName(schema.items) + "[]";
  return schema.type || "";
}

function route(path, method, op) {
  const section = el("section");
  section.append(el("h2", `${method.toUpperCase()} ${path}`));
  if (op.summary) section.append(el("p", op.summary, "hint"));
  if (op.description) section.append(el("pre", op.description));
  const params = (op.parameters || []).map((p) => `${p.name} (${p.in}${p.required ? ", required" : ""})`);
  if (params.length) section.append(el("p", "Parameters: " + params.join(", ")));
  const body = op.requestBody && op.requestBody.content;
  if (body) {
    const [type, media] = Object.entries(body)[0];
    section.append(el("p", `Body: ${type} ${schemaName(media.schema)}`));
  }
  const codes = Object.entries(op.responses || {}).map(([code, r]) => {
    const content = r.content ? Object.entries(r.content).map(([t, m]) => `${t} ${schemaName(m.schema)}`).join(", ") : "";
    return `${code} ${content}`.trim();
  });
  section.append(el("p", "Responses: " + codes.join("; ")));
  return section;
}

function schemas(components) {
  const section = el("section");
  section.append(el("h2", "Schemas"));
  for (const [name, schema] of Object.entries((components && components.schemas) || {})) {
    section.append(el("h3", name));
    const fields = Object.entries(schema.properties || {}).map(([k, v]) => `${k}: ${schemaName(v) || "any"}${(schema.required || []).includes(k) ? " (required)" : ""}`);
    section.append(el("pre", fields.join("\n") || JSON.stringify(schema, null, 2)));
  }
  return section;
}

fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  const box = document.getElementById("routes");
  box.replaceChildren(el("p", `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) box.append(route(path, method, op));
  }
  box.append(schemas(spec.components));
}).catch((err) => { document.getElementById("routes").textContent = "Could not read /openapi.json: " + err.message; });
