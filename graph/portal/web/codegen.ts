import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed operations from src/operations/*.graphql against the server's
// schema: src/gql/ (committed) holds each operation as a typed string with
// its SHA-256 hash, which is all the page sends (trusted documents).
const config: CodegenConfig = {
  schema: '../../../schema/*.graphqls',
  documents: 'src/operations/*.graphql',
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      config: {
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { Time: 'string', ID: 'string' },
      },
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: 'replaceDocumentWithHash', hashAlgorithm: 'sha256' },
      },
    },
  },
};
export default config;
