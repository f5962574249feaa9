/**
 * Where a node keeps the files OMS manages. Defaults are the layout of the lab's nodes (the
 * network configuration directory: Debian's); an operator sets other directories per node with
 * funcservices.set_node_settings.
 */
import type { NodeSettings } from './nodes.ts';

export interface NodeDirs {
  /** ISO images (isoservices, and CD-ROMs of guests). */
  readonly isos: string;
  /** File-based disk images of guests. */
  readonly images: string;
  /** KVM templates (settings + disk images). */
  readonly templates: string;
  /** Container templates: root-filesystem tarballs, as OpenVZ's template cache. */
  readonly containerTemplates: string;
  /** ifupdown files written by netinterfaceservices.save_network_config (oms-<bridge>). */
  readonly networkConfig: string;
}

export const defaultNodeDirs: NodeDirs = {
  isos: '/var/lib/oms-node/isos',
  images: '/var/lib/oms-node/images',
  templates: '/var/lib/oms-node/templates',
  containerTemplates: '/var/lib/oms-node/templates/cache',
  networkConfig: '/etc/network/interfaces.d',
};

export const nodeDirs = (s: NodeSettings): NodeDirs => ({
  isos: s.isoDir ?? defaultNodeDirs.isos,
  images: s.imagesDir ?? defaultNodeDirs.images,
  templates: s.templatesDir ?? defaultNodeDirs.templates,
  containerTemplates: s.containerTemplatesDir ?? defaultNodeDirs.containerTemplates,
  networkConfig: s.networkConfigDir ?? defaultNodeDirs.networkConfig,
});
