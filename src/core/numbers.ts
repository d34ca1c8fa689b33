/**
 * DynamoDB numbers are decimals of up to 38 significant digits. They travel as strings and must never pass through a
 * JS float. `normalizeDecimal` gives one canonical spelling per value so that 1.50, 1.5 and 15E-1 compare equal.
 */
const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export function normalizeDecimal(input: string): string {
  const text = input.trim();
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal number: ${JSON.stringify(input)}`);
  const sign = m[1] === '-' ? '-' : '';
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? '';
  let exponent = m[4] ? parseInt(m[4], 10) : 0;
  let digits = intPart + fracPart;
  exponent -= fracPart.length;
  digits = digits.replace(/^0+/, '');
  if (digits === '') return '0';
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  // digits × 10^exponent, digits without leading/trailing zeros.
  if (exponent >= 0) {
    return exponent <= 40 ? `${sign}${digits}${'0'.repeat(exponent)}` : `${sign}${digits}E${exponent}`;
  }
  const point = digits.length + exponent;
  if (point > 0) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  if (point > -40) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  return `${sign}${digits}E${exponent}`;
}

export function decimalsEqual(a: string, b: string): boolean {
  return a === b || normalizeDecimal(a) === normalizeDecimal(b);
}
