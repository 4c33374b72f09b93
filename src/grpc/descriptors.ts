// gen/descriptor.binpb, the descriptors buf compiled (written by `npm run gen`), loaded once for
// reflection and for strict request checking.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type FileRegistry, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

let loaded: { bytes: Buffer; registry: FileRegistry } | undefined;

/** Found upwards from here, so it works from src/ (tests) and from dist/src/ (the image). */
function findDescriptorSet(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const path = join(dir, 'gen', 'descriptor.binpb');
    if (existsSync(path)) return path;
  }
  throw new Error(`gen/descriptor.binpb not found above ${__dirname}`);
}

export function descriptorSet(): { bytes: Buffer; registry: FileRegistry } {
  if (!loaded) {
    const bytes = readFileSync(findDescriptorSet());
    loaded = { bytes, registry: createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes)) };
  }
  return loaded;
}
