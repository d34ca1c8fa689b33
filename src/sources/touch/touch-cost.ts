import { TOUCH_MARKER_ATTRIBUTE } from './touch.js';

export interface TouchCost {
  /** Write units for both passes (touch, then marker removal). */
  writeUnits: number;
  /** Read units for the two key scans (eventually consistent; a Scan pays for whole items even when projecting keys). */
  readUnits: number;
  /** Stream records the passes add (each needs applying by the catch-up). */
  streamRecords: number;
}

/**
 * What the touch strategy costs, for `plan`: each pass rewrites every item once, and a write costs one unit per
 * started KB of the item's size (with the marker, which makes the item slightly larger):
 * WCU = 2 passes × ceil((size + marker) / 1 KB) per item.
 */
export function estimateTouchCost(itemCount: number, avgItemBytes: number, opts: { marker?: string; tokenBytes?: number } = {}): TouchCost {
  const markerBytes = Buffer.byteLength(opts.marker ?? TOUCH_MARKER_ATTRIBUTE) + (opts.tokenBytes ?? 26);
  const perItem = Math.max(1, Math.ceil((avgItemBytes + markerBytes) / 1024));
  const scanBytes = itemCount * (avgItemBytes + markerBytes);
  return {
    writeUnits: 2 * itemCount * perItem,
    readUnits: 2 * Math.ceil(scanBytes / 4096) * 0.5,
    streamRecords: 2 * itemCount,
  };
}
