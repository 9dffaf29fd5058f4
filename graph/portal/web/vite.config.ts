import { defineConfig, type Plugin } from 'vite';

// Codegen writes each fragment as `new TypedDocumentString(...)`, which a
// bundler must keep (a constructor may have effects). The page sends
// documents by hash only, so the texts are dead weight: mark them pure and
// they are left out unless something reads them.
const pureDocuments: Plugin = {
  name: 'pure-typed-documents',
  transform(code, id) {
    if (!id.endsWith('/src/gql/graphql.ts')) return null;
    return { code: code.replaceAll('= new TypedDocumentString(', '= /* @__PURE__ */ new TypedDocumentString('), map: null };
  },
};

// One page, served by portald under PORTAL_BASE_URL's path: relative asset
// URLs, no inline script (the CSP allows 'self' only), reproducible names.
export default defineConfig({
  base: './',
  plugins: [pureDocuments],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
