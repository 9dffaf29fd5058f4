import { defineConfig } from 'vite';

// One page, served by portald under PORTAL_BASE_URL's path: relative asset
// URLs, no inline script (the CSP allows 'self' only), reproducible names.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
