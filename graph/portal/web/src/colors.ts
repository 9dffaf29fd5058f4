// The property's colours, made readable: text on a colour is black or white,
// whichever contrasts more, and a colour used for text on white is darkened
// until it reaches WCAG AA (4.5:1). Management picks the colours; residents
// must still be able to read the page.
const hex = /^#[0-9a-fA-F]{6}$/;

type RGB = [number, number, number];

function parse(c: string): RGB {
  return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as RGB;
}

function format(rgb: RGB): string {
  return '#' + rgb.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
}

function luminance(rgb: RGB): number {
  const [r, g, b] = rgb.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(parse(a)), luminance(parse(b))].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** Black or white, whichever reads better on c. */
export function onColor(c: string): string {
  return contrast(c, '#ffffff') >= contrast(c, '#000000') ? '#ffffff' : '#000000';
}

/** c, darkened until it reads as text on white (4.5:1). */
export function inkOnWhite(c: string): string {
  let rgb = parse(c);
  for (let i = 0; i < 20 && contrast(format(rgb), '#ffffff') < 4.5; i++) rgb = rgb.map((v) => v * 0.85) as RGB;
  return format(rgb);
}

/** Whether c is a #RRGGBB colour. */
export function isColor(c: string): boolean {
  return hex.test(c);
}
