// A small SQL highlighter for the playground: split SQL text into tokens, render them as <span>s.
// Tokens only ever become text nodes (never HTML), so any SQL, even hostile, is shown as typed.
"use strict";

(() => {
  const KEYWORDS = new Set(`
    ALL AND AS ASC BETWEEN BY CASE CAST COLLATE CROSS DESC DISTINCT ELSE END ESCAPE EXCEPT EXISTS
    FALSE FILTER FROM FULL GLOB GROUP HAVING IN INNER INTERSECT IS ISNULL JOIN LEFT LIKE LIMIT
    MATCH NATURAL NOT NOTNULL NULL NULLS OFFSET ON OR ORDER OUTER OVER PARTITION RECURSIVE REGEXP
    RIGHT ROWS SELECT THEN TRUE UNION USING VALUES WHEN WHERE WINDOW WITH FIRST LAST RANGE
    INSERT UPDATE DELETE DROP CREATE ALTER TABLE INTO SET PRAGMA ATTACH DETACH
  `.split(/\s+/).filter(Boolean));

  // Token kinds in the order they are tried at each position; each pattern is sticky (y).
  const RULES = [
    ["space", /\s+/y],
    ["comment", /--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/y],
    ["string", /'(?:[^']|'')*(?:'|$)/y],
    ["identifier", /"(?:[^"]|"")*(?:"|$)|`[^`]*(?:`|$)|\[[^\]]*(?:\]|$)/y],
    ["number", /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\b|0[xX][0-9a-fA-F]+/y],
    ["word", /[A-Za-z_][A-Za-z0-9_$]*/y],
    ["parameter", /[?:@$][A-Za-z0-9_]*/y],
    ["operator", /\|\||<<|>>|<=|>=|==|!=|<>|[-+*\/%<>=~&|]/y],
    ["punctuation", /[(),;.]/y],
  ];

  /** The tokens of `sql` as [kind, text] pairs; joining the texts gives `sql` back exactly. */
  function tokenize(sql) {
    const tokens = [];
    let at = 0;
    while (at < sql.length) {
      let matched = false;
      for (const [kind, pattern] of RULES) {
        pattern.lastIndex = at;
        const m = pattern.exec(sql);
        if (m && m[0].length > 0) {
          let type = kind;
          if (kind === "word") {
            const rest = sql.slice(at + m[0].length);
            if (KEYWORDS.has(m[0].toUpperCase())) type = "keyword";
            else if (/^\s*\(/.test(rest)) type = "function";
            else type = "name";
          }
          tokens.push([type, m[0]]);
          at += m[0].length;
          matched = true;
          break;
        }
      }
      if (!matched) {
        tokens.push(["other", sql[at]]);
        at += 1;
      }
    }
    return tokens;
  }

  /** A <code> element holding `sql` highlighted: one span per token, class `tok-<kind>`. */
  function highlight(sql) {
    const code = document.createElement("code");
    code.className = "sql";
    for (const [kind, text] of tokenize(sql)) {
      if (kind === "space") {
        code.appendChild(document.createTextNode(text));
      } else {
        const span = document.createElement("span");
        span.className = `tok-${kind}`;
        span.textContent = text;
        code.appendChild(span);
      }
    }
    return code;
  }

  window.sqlHighlight = Object.freeze({ tokenize, highlight });
})();
