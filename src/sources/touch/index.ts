export {
  TOUCH_MARKER_ATTRIBUTE,
  touchAll,
  removeMarkers,
  stripTouchMarker,
  type TouchOptions,
  type TouchResult,
  type TouchState,
  type TouchSegmentState,
} from './touch.js';
export { estimateTouchCost, type TouchCost } from './touch-cost.js';
