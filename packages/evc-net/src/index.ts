/**
 * effect-evc-net: the Effect integration for the EVC-net charging platform's APIs.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { AccessToken } from "./AccessToken.js"

/** @since 0.1.0 */
export { Credentials } from "./Credentials.js"

/** @since 0.1.0 */
export * as CredentialsModule from "./Credentials.js"

/** @since 0.1.0 */
export { EvcNetConfig } from "./EvcNetConfig.js"

/** @since 0.1.0 */
export * as EvcNetConfigModule from "./EvcNetConfig.js"

/** @since 0.1.0 */
export * from "./EvcNetError.js"

/** @since 0.1.0 */
export * as TokenRequest from "./TokenRequest.js"

/** @since 0.1.0 */
export { TokenCache } from "./TokenCache.js"

/** @since 0.1.0 */
export * as TokenCacheModule from "./TokenCache.js"

/** @since 0.1.0 */
export { EvcNetClient } from "./EvcNetClient.js"

/** @since 0.1.0 */
export * as EvcNetClientModule from "./EvcNetClient.js"
