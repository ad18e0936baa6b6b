/**
 * effect-evc-net-testing: an embedded EVC-net stand-in and test layers.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { MockEvcNet } from "./MockEvcNet.js"

/** @since 0.1.0 */
export * as MockEvcNetModule from "./MockEvcNet.js"

/** @since 0.1.0 */
export * as EvcNetTest from "./EvcNetTest.js"
