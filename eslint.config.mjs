// Lint and format in one pass, the way Effect's own repository does it:
// typescript-eslint's strict rules plus @effect/eslint-plugin's dprint formatter.
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist", "**/node_modules", "**/*.cpuprofile"] },
  ...tseslint.configs.strict,
  ...effect.configs.dprint,
  {
    files: ["**/*.ts", "**/*.mjs"],
    languageOptions: {
      parser: tseslint.parser,
      ecmaVersion: 2022,
      sourceType: "module"
    },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "error",
      // Effect<void>, FiberHandle<void> and friends are idiomatic
      "@typescript-eslint/no-invalid-void-type": "off",
      "no-console": "off",
      "object-shorthand": "error",
      "prefer-const": "error",
      "eqeqeq": ["error", "always"]
    }
  }
)
