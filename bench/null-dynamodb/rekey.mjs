/**
 * The client-ceiling benchmark's key-changing transform: the item keyed by `pk` = "order#<id>" instead of `id`, every
 * other attribute kept. A plain module (no TypeScript) so that dynashift's config (`"transform": "…/rekey.mjs"`) and
 * the minimal copier load the same function.
 */
export default function rekey(item) {
  const { id, ...rest } = item;
  return { pk: `order#${id}`, ...rest };
}
