// Shards the service's two collections. Run it once with mongosh against a mongos, before or
// after the service has created its data (the database name is the service's MONGODB_DB):
//
//   mongosh "mongodb://mongos.example:27017" --eval 'var dbName = "authtoken"' deploy/mongodb/shard.js
//
// Why these keys: README.md "How tokens are stored" and deploy/mongodb/README.md.
const target = db.getSiblingDB(typeof dbName === 'string' ? dbName : 'authtoken');
const name = target.getName();

sh.enableSharding(name);

// users: one document per user, and every query names its _id (or, in the sweeps, a range of _id).
sh.shardCollection(`${name}.users`, { _id: 1 });

// archived_tokens: every query names one uid; _id (the token id) after it splits a user whose
// archive outgrows a chunk. A shard key needs an index that starts with it.
target.archived_tokens.createIndex({ uid: 1, _id: 1 }, { name: 'uid_token_shard_key' });
sh.shardCollection(`${name}.archived_tokens`, { uid: 1, _id: 1 });

printjson(sh.status());
