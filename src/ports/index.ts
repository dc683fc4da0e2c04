export {
  type BoardLookup,
  type BoardLookupResult,
  type ListPortsOptions,
  listPorts,
  type PortDescription,
  type UdevPortInfo,
} from "./list-ports.js";
export { describeSysfsTty, listSysfsPorts, SYSFS_ROOT_DEFAULT, type SysfsPort } from "./sysfs.js";
