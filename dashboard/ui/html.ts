/**
 * `html`: htm's tagged templates bound to Preact's `h`, so components are written without a JSX
 * build step.
 *
 * @module
 */

import htm from "htm";
import { h, type VNode } from "preact";

type Template = (strings: TemplateStringsArray, ...values: unknown[]) => VNode;

/** Preact elements from a template: html`<p class="x">${text}</p>`. */
export const html = (htm as unknown as { bind(f: typeof h): Template }).bind(h);
