/* BX24 stand-in of the sandbox portal: the app frame's side of the protocol. */
(function (global) {
  'use strict';
  if (global.BX24) { return; }
  var seq = 0, pending = {}, auth = null, placement = null, waiting = [], ready = false, started = false;

  function send(cmd, params, callback) {
    var id = 'bx' + (++seq);
    if (callback) { pending[id] = callback; }
    global.parent.postMessage({ bx24: true, cmd: cmd, params: params || {}, id: id }, '*');
  }
  global.addEventListener('message', function (event) {
    var msg = event.data;
    if (!msg || !msg.bx24reply || !pending[msg.id]) { return; }
    var callback = pending[msg.id];
    delete pending[msg.id];
    callback(msg.data);
  });

  function Result(answer, method, params) {
    this.status = answer.status;
    this.answer = answer.body || {};
    this.method = method;
    this.params = params;
  }
  Result.prototype.data = function () { return this.answer.result; };
  Result.prototype.error = function () {
    return 'error' in this.answer ? (this.answer.error || this.answer.error_description || 'error') : false;
  };
  Result.prototype.error_description = function () { return this.answer.error_description || ''; };
  Result.prototype.more = function () { return typeof this.answer.next !== 'undefined'; };
  Result.prototype.total = function () { return this.answer.total || 0; };
  Result.prototype.time = function () { return this.answer.time; };
  Result.prototype.next = function (callback) {
    if (!this.more()) { return false; }
    var params = Object.assign({}, this.params, { start: this.answer.next });
    BX24.callMethod(this.method, params, callback);
    return true;
  };

  var BX24 = {
    init: function (callback) {
      if (ready) { if (callback) { callback(); } return; }
      waiting.push(callback);
      if (started) { return; }
      started = true;
      send('init', {}, function (data) {
        auth = data.auth;
        placement = data.placement;
        ready = true;
        waiting.splice(0).forEach(function (f) { if (f) { f(); } });
      });
    },
    ready: function (callback) { BX24.init(callback); },
    installFinish: function () { send('installFinish', {}, function () {}); },
    getAuth: function () {
      if (!auth) { return false; }
      return {
        access_token: auth.AUTH_ID, refresh_token: auth.REFRESH_ID,
        expires_in: Number(auth.AUTH_EXPIRES), domain: auth.DOMAIN, member_id: auth.member_id
      };
    },
    refreshAuth: function (callback) { if (callback) { callback(BX24.getAuth()); } },
    isAdmin: function () { return !!(auth && auth.IS_ADMIN); },
    getLang: function () { return auth ? auth.LANG : 'ru'; },
    getDomain: function () { return auth ? auth.DOMAIN : ''; },
    callMethod: function (method, params, callback) {
      params = params || {};
      send('callMethod', { method: method, params: params }, function (answer) {
        if (callback) { callback(new Result(answer, method, params)); }
      });
    },
    callBatch: function (calls, callback, haltOnError) {
      var cmd = Array.isArray(calls) ? [] : {};
      Object.keys(calls).forEach(function (key) {
        var c = calls[key];
        var method = Array.isArray(c) ? c[0] : c.method;
        var params = Array.isArray(c) ? c[1] : c.params;
        cmd[key] = method + '?' + new URLSearchParams(params || {}).toString();
      });
      BX24.callMethod('batch', { halt: haltOnError ? 1 : 0, cmd: cmd }, function (r) {
        if (callback) { callback(r.data()); }
      });
    },
    placement: {
      info: function () { return placement || { placement: 'DEFAULT', options: {} }; },
      bindEvent: function () {},
      call: function (command, params, callback) { if (callback) { callback(); } },
      getInterface: function (callback) { if (callback) { callback({ command: [], event: [] }); } }
    },
    resizeWindow: function (width, height, callback) {
      send('resizeWindow', { width: width, height: height }, function () { if (callback) { callback(); } });
    },
    fitWindow: function (callback) {
      BX24.resizeWindow(0, document.documentElement.scrollHeight, callback);
    },
    reloadWindow: function () { global.location.reload(); },
    closeApplication: function () {}
  };
  global.BX24 = BX24;
})(window);
