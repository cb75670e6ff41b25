console.log('hello from tessera', process.argv.slice(2))
