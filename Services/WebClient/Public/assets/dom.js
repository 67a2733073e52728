// Building the page. Everything a person or the API wrote is set as text, never parsed as HTML.
import { problemText } from "./api.js";

/** An element: `h("a", {href: "#/"}, "Home")`. Attributes starting with "on" become listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `element` holds. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A form's fields as an object of strings. */
export function fields(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Cents as money: 199 -> "$1.99". */
export function money(cents) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(cents / 100);
}

/**
 * A message for a page's message area, which is a live region already there before it speaks:
 * the message carries no role of its own, or screen readers would say it twice.
 */
export function status(text, kind = "info") {
  return h("p", { class: `status ${kind}` }, text);
}

/**
 * Shows `message` in the live region `region` of a page just drawn anew: screen readers miss what
 * a live region holds when it appears, so it is said a moment later.
 */
export function sayAfterRedraw(region, message) {
  setTimeout(() => region?.replaceChildren(message), 100);
}

/** A message put where no live region is (a page being drawn, a dialog): it is its own. */
export function liveStatus(text, kind = "info") {
  return h("p", { class: `status ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/**
 * A form's submit (or a button's click) handler: `action(values, form)` runs with `message`
 * cleared and the button disabled until it ends (no double submission); a problem shows there.
 */
export function submitting(message, action) {
  return async (event) => {
    event.preventDefault();
    const form = event.target instanceof HTMLFormElement ? event.target : null;
    const button = form ? form.querySelector("button[type=submit]") : event.target;
    if (button?.disabled) return;
    if (button) button.disabled = true;
    fill(message);
    try {
      await action(form ? fields(form) : {}, form);
    } catch (error) {
      fill(message, status(problemText(error), "error"));
    } finally {
      if (button) button.disabled = false;
      // The page was drawn anew under the keyboard: carry on from its content, not the document's start.
      if (button && !button.isConnected) document.getElementById("main")?.focus();
    }
  };
}
