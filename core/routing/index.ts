export {
  compileOrigins,
  hostnameOf,
  type OriginRouter,
  originTarget,
  routeOrigin,
  underPrefix,
} from "./origins.ts";
export {
  type RendezvousNodes,
  rendezvousNodes,
  rendezvousOrder,
  rendezvousScore,
} from "./rendezvous.ts";
