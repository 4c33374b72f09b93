// gen/descriptor.binpb, the descriptors buf compiled (written by `npm run gen`), loaded once for
// reflection and for strict request checking.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type FileRegistry, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { type FileDescriptorProto, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

interface Descriptors {
  files: FileDescriptorProto[];
  registry: FileRegistry;
}

let loaded: Descriptors | undefined;

/** Found upwards from here, so it works from src/ (tests) and from dist/src/ (the image). */
function findDescriptorSet(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const path = join(dir, 'gen', 'descriptor.binpb');
    if (existsSync(path)) return path;
  }
  throw new Error(`gen/descriptor.binpb not found above ${__dirname}`);
}

/** Decoded once: the files as compiled (for reflection) and a registry over them (for checking). */
export function descriptorSet(): Descriptors {
  if (!loaded) {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(findDescriptorSet()));
    loaded = { files: set.file, registry: createFileRegistry(set) };
  }
  return loaded;
}
