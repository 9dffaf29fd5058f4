import qrcode from 'qrcode-generator';

/** The text of a Wi-Fi QR code: WIFI:T:WPA;S:<ssid>;P:<passphrase>;; with \ ; , : " escaped. */
export function wifiText(ssid: string, passphrase: string): string {
  const esc = (s: string) => s.replace(/[\\;,:"]/g, (c) => '\\' + c);
  return `WIFI:T:WPA;S:${esc(ssid)};P:${esc(passphrase)};;`;
}

/** A QR code of text as an image data URL (GIF, 4 pixels a module, the standard's 4-module quiet zone). */
export function qrDataURL(text: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  return qr.createDataURL(4, 16);
}

/** The server's rule for a chosen passphrase: 8 to 63 printable ASCII characters. */
export function passphraseProblem(p: string): string | null {
  if (p.length < 8 || p.length > 63) return 'Use 8 to 63 characters.';
  if (!/^[\x20-\x7e]*$/.test(p)) return 'Use letters, digits, spaces and ASCII punctuation only.';
  return null;
}
