// gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl can list and describe the
// services and decode error details with nothing but the address.
//
// It answers from gen/descriptor.binpb (./descriptors.ts): the exact descriptors buf compiled,
// imports included.
// (@grpc/reflection 1.0.4 rebuilds descriptors through protobufjs and drops imports such as
// google.protobuf.Struct, which breaks `grpcurl describe`: grpc/grpc-node#3034.)
import { toBinary } from '@bufbuild/protobuf';
import { type DescriptorProto, type FileDescriptorProto, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { type Server, type ServerDuplexStream, status } from '@grpc/grpc-js';
import { descriptorSet } from './descriptors';
import * as v1 from '../../gen/grpc/reflection/v1/reflection';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection';

export class DescriptorIndex {
  private readonly files = new Map<string, { proto: FileDescriptorProto; encoded: Buffer }>();
  private readonly fileBySymbol = new Map<string, string>();

  constructor(files: readonly FileDescriptorProto[]) {
    for (const file of files) {
      this.files.set(file.name, { proto: file, encoded: Buffer.from(toBinary(FileDescriptorProtoSchema, file)) });
      const prefix = file.package ? `${file.package}.` : '';
      const add = (name: string) => this.fileBySymbol.set(prefix + name, file.name);
      const addMessage = (message: DescriptorProto, scope: string) => {
        const name = scope + message.name;
        add(name);
        message.field.forEach((f) => add(`${name}.${f.name}`));
        message.enumType.forEach((e) => add(`${name}.${e.name}`));
        message.nestedType.forEach((nested) => addMessage(nested, `${name}.`));
      };
      file.messageType.forEach((m) => addMessage(m, ''));
      file.enumType.forEach((e) => add(e.name));
      file.extension.forEach((e) => add(e.name));
      for (const service of file.service) {
        add(service.name);
        service.method.forEach((m) => add(`${service.name}.${m.name}`));
      }
    }
  }

  /** The named file followed by everything it imports, transitively: what clients need at once. */
  fileWithImports(fileName: string): Buffer[] | undefined {
    if (!this.files.has(fileName)) return undefined;
    const seen = new Set<string>();
    const visit = (name: string) => {
      const file = this.files.get(name);
      if (!file || seen.has(name)) return;
      seen.add(name);
      file.proto.dependency.forEach(visit);
    };
    visit(fileName);
    return [...seen].map((name) => this.files.get(name)!.encoded);
  }

  fileContainingSymbol(symbol: string): Buffer[] | undefined {
    const fileName = this.fileBySymbol.get(symbol);
    return fileName === undefined ? undefined : this.fileWithImports(fileName);
  }
}

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

function answer(index: DescriptorIndex, services: readonly string[], request: Request): Response {
  const respond = (messageResponse: Response['messageResponse']): Response => ({
    validHost: request.host,
    originalRequest: request,
    messageResponse,
  });
  const files = (found: Buffer[] | undefined, what: string) =>
    found
      ? respond({ $case: 'fileDescriptorResponse', value: { fileDescriptorProto: found } })
      : respond({ $case: 'errorResponse', value: { errorCode: status.NOT_FOUND, errorMessage: `${what} not found` } });

  const query = request.messageRequest;
  switch (query?.$case) {
    case 'listServices':
      return respond({ $case: 'listServicesResponse', value: { service: services.map((name) => ({ name })) } });
    case 'fileByFilename':
      return files(index.fileWithImports(query.value), `file ${query.value}`);
    case 'fileContainingSymbol':
      return files(index.fileContainingSymbol(query.value), `symbol ${query.value}`);
    default:
      // None of our protos declare extensions.
      return respond({
        $case: 'errorResponse',
        value: { errorCode: status.UNIMPLEMENTED, errorMessage: `${query?.$case ?? 'empty request'} is not supported` },
      });
  }
}

/** Adds reflection (v1 and v1alpha) listing `services` to `server`. */
export function addReflection(server: Server, services: readonly string[]): void {
  const index = new DescriptorIndex(descriptorSet().files);
  // One request at a time: the next is read only once the last answer has left, so a client that
  // writes requests without reading answers fills its own HTTP/2 window, not this process.
  const serve = (stream: ServerDuplexStream<Request, Response>) => {
    stream.on('data', (request: Request) => {
      stream.pause();
      stream.write(answer(index, services, request), () => stream.resume());
    });
    stream.on('end', () => stream.end());
  };
  server.addService(v1.ServerReflectionService, { serverReflectionInfo: serve });
  // v1alpha has the same messages under another package: older clients still ask for it.
  server.addService(v1alpha.ServerReflectionService, { serverReflectionInfo: serve });
}
